"""The rule that chooses memento/ranking.py's weights (bench/locomo_sweep.py): smoothed arg-max,
leave-one-conversation-out, the bootstrap of dev - LOCO and the edge flag, on small grids whose
answer is known. Pure Python: no store, no model (the sweep itself runs on the dev set)."""
from __future__ import annotations

import random

from bench import locomo_sweep as sweep

AXIS = (0.0, 0.1, 0.2, 0.3, 0.4)


def grid_1d(values_per_conv):
    """{(x,): [[R@10 of each question] per conversation]}, one question per conversation."""
    return {(x,): [[v[i]] for v in values_per_conv] for i, x in enumerate(AXIS)}


def test_a_plateau_beats_a_lone_peak():
    # x=0.1 is the highest point but stands alone; 0.4 is the middle of a plateau.
    axis = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    grid = {(x,): [[v]] for x, v in zip(axis, [0.0, 1.0, 0.0, 0.8, 0.8, 0.8, 0.0])}
    sums, counts = sweep.totals(grid)
    assert sweep.smoothed_argmax(sums, counts, (axis,), [0]) == (0.4,)


def test_loco_chooses_without_the_held_out_conversation():
    # Conversations 0-3 peak at 0.2, conversation 4 at 0.4: held out, it gets the others' 0.2.
    same, other = [0.0, 0.5, 1.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.5, 1.0]
    grid = grid_1d([same, same, same, same, other])
    result = sweep.loco(*sweep.totals(grid), (AXIS,))
    assert result["chosen"] == (0.2,)
    assert result["loco_picks"] == [(0.2,)] * 5
    assert result["dev_R@10"] == result["loco_R@10"] == 0.8
    # Conversation 4 with four questions: it pulls the all-dev choice up the axis, and each
    # conversation held out loses its own best point to the others' choice.
    for i, x in enumerate(AXIS):
        grid[(x,)][4] = [other[i]] * 4
    result = sweep.loco(*sweep.totals(grid), (AXIS,))
    assert result["chosen"] == (0.3,) and result["dev_R@10"] == 0.5
    assert result["loco_picks"] == [(0.4,)] * 4 + [(0.2,)]
    assert result["loco_R@10"] == 0.0


def test_an_edge_point_averages_fewer_neighbours():
    # Why the sweep flags a choice on the edge: 0.0 is averaged with one neighbour only.
    grid = grid_1d([[0.5, 1.0, 0.5, 0.0, 0.0]])
    sums, counts = sweep.totals(grid)
    assert sweep.smoothed_argmax(sums, counts, (AXIS,), [0]) == (0.0,)


def test_bootstrap_of_a_flat_grid_has_no_gap_and_repeats():
    grid = {(x,): [[1.0, 0.0, 0.5], [0.0, 1.0]] for x in AXIS}
    first = sweep.bootstrap(grid, (AXIS,), samples=50, seed=3)
    assert first["gap"]["mean"] == 0 and first["gap"]["sd"] == 0
    assert first["dev_R@10"]["sd"] > 0  # the questions do differ
    assert sweep.bootstrap(grid, (AXIS,), samples=50, seed=3) == first


def test_bootstrap_sees_the_optimism_of_a_noisy_grid():
    # Every point is right on each question by a coin toss: the same true R@10 everywhere, so the
    # dev figure of the chosen point is selection on noise and the held-out figure is not.
    rng = random.Random(7)
    grid = {(x,): [[float(rng.random() < 0.5) for _ in range(30)] for _ in range(5)] for x in AXIS}
    result = sweep.bootstrap(grid, (AXIS,), samples=200, seed=1)
    assert result["gap"]["mean"] > 0.01
    assert result["gap"]["share_over_0.01"] > 0.5


def test_edge_flag():
    axes = (AXIS, (0.5, 1.0, 2.0))
    assert sweep.on_edge((0.2, 1.0), axes) == []
    assert sweep.on_edge((0.2, 2.0), axes) == [1]
    assert sweep.on_edge((0.0, 0.5), axes) == [0, 1]
    assert sweep.on_edge((0.0,), ((0.0, 1.0),)) == []  # a two-value axis has no inside


def test_the_grids_are_the_same_for_every_tier():
    assert sweep.KEYWORD_GAMMAS == sweep.GAMMAS == tuple(i / 10 for i in range(11))
    ratios = [b / a for a, b in zip(sweep.W_VECTORS, sweep.W_VECTORS[1:])]
    assert all(abs(r - 2 ** 0.5) < 0.03 for r in ratios)
    assert sweep.W_VECTORS[0] * sweep.W_VECTORS[-1] == 1.0  # symmetric around equal weights
