"""Realistic agent-memory text for benchmarks: varied people, places, habits, plans and facts,
built from templates with a seeded RNG (same corpus on every run, nothing repeated verbatim)."""
from __future__ import annotations

import random
from typing import Iterator, List

NAMES = ("Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil "
         "Trent Victor Walter Yusuf Zoe Amara Bilal Chen Dario Elif Farah Goran Hana Ines Jonas Kenji "
         "Lena Mateo Noor Oskar Priya Quinn Rosa Sami Tariq Uma Vera Wen Ximena Yara Zeno").split()
PLACES = ("Lisbon, Berlin, Nairobi, Osaka, Denver, Montreal, the office, the cabin, the gym, Grandma's house, "
          "the library, Madrid, Seoul, the lake, the farmers market, Oslo, Lima, Cairo, the clinic, Austin").split(", ")
FOODS = ("green tea, espresso, oat milk, sushi, ramen, tacos, lentil soup, dark chocolate, kimchi, pho, "
         "granola").split(", ")
HOBBIES = ("bouldering, pottery, chess, sailing, birdwatching, running, woodworking, salsa dancing, gardening, "
           "photography, knitting, trail running, baking sourdough, cycling").split(", ")
THINGS = ("laptop passport bike keys guitar camera notebook charger umbrella tent headphones "
          "backpack telescope kayak drone").split()
TOPICS = ("the quarterly report the API migration the database backup the budget review the hiring plan "
          "the launch checklist the security audit the onboarding doc the roadmap the invoice").split(" the ")
MONTHS = "January February March April May June July August September October November December".split()
TEMPLATES = (
    "{a} switched from {f1} to {f2} last {m}.",
    "{a} is allergic to {f1}; never suggest it for dinner.",
    "{a} moved to {p} in {m} and loves the neighbourhood.",
    "Remind {a} to bring the {t} to {p} on Friday.",
    "{a} started {h} with {b} and goes every {d}.",
    "The meeting about {topic} moved to {d} at {hour}:00.",
    "{a} said the {t} broke during the trip to {p}.",
    "{a}'s birthday is on {m} {day}; {b} is planning a surprise in {p}.",
    "Deadline for {topic} is {m} {day}, owner {a}.",
    "{a} prefers {f1} in the morning and {f2} after lunch.",
    "{a} and {b} argued about {topic} but agreed to revisit it in {m}.",
    "Lent my {t} to {a}; {a} promised to return it by {d}.",
    "{a} is training for a half marathon and runs {n} km on {d}s.",
    "{a} recommended a {h} class near {p} that costs {n}0 euros a month.",
    "User asked to always answer {a} in Spanish and keep replies short.",
    "{a} adopted a dog named {b2} from a shelter in {p}.",
    "Flight to {p} leaves at {hour}:{mm} on {m} {day}; {a} has the tickets.",
    "{a} finished reading a book about {h} and wants one about {h2} next.",
    "The wifi password at {p} changed; {a} wrote it in the {t}.",
    "{a} can't eat {f1} after the dentist visit on {d}.",
)
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def texts(n: int, seed: int = 7) -> List[str]:
    return list(iter_texts(n, seed))


def iter_texts(n: int, seed: int = 7) -> Iterator[str]:
    rng = random.Random(seed)
    for i in range(n):
        a, b, b2 = rng.sample(NAMES, 3)
        f1, f2 = rng.sample(FOODS, 2)
        h, h2 = rng.sample(HOBBIES, 2)
        text = rng.choice(TEMPLATES).format(
            a=a, b=b, b2=b2, f1=f1, f2=f2, h=h, h2=h2, p=rng.choice(PLACES), t=rng.choice(THINGS),
            topic=rng.choice(TOPICS).strip(), m=rng.choice(MONTHS), d=rng.choice(DAYS),
            day=rng.randint(1, 28), hour=rng.randint(6, 21), mm=f"{rng.randrange(0, 60, 5):02d}",
            n=rng.randint(3, 25))
        yield f"{text} (note {i})" if rng.random() < 0.1 else text


def queries(n: int, seed: int = 11) -> List[str]:
    """Questions an agent would ask of such a store."""
    rng = random.Random(seed)
    forms = ("what does {a} drink in the morning?", "where did {a} move?", "when is {a}'s birthday?",
             "who has the {t}?", "what hobby did {a} start?", "when is the meeting about {topic}?",
             "is {a} allergic to anything?", "which language should I use with {a}?",
             "what did {a} lend or borrow?", "when does the flight to {p} leave?")
    return [rng.choice(forms).format(a=rng.choice(NAMES), t=rng.choice(THINGS), p=rng.choice(PLACES),
                                     topic=rng.choice(TOPICS).strip()) for _ in range(n)]


# -- conversations: memories in threads ----------------------------------------------------------

REPLIES = ("Yeah, it was great!", "Oh nice, when was that?", "Haha, that sounds like them.", "Really? Tell me more.",
           "I know, right? I can't wait.", "That's so cool, congrats!", "Hmm, not sure about that one.",
           "Sounds fun! Send me pictures.", "Wow, I had no idea.", "Thanks, I'll keep that in mind.",
           "Same here, honestly.", "Good luck with it!")


def threaded(n: int, turns_per_thread: int = 20, seed: int = 5) -> List[dict]:
    """Dev-set-like conversation turns: remember_many items with a thread (one per session of
    `turns_per_thread` turns, two speakers) and the session's time as created_at. About a third
    of the turns are short replies that mean something only next to the turn before them."""
    rng = random.Random(seed)
    facts = iter_texts(n, seed)
    items = []
    for i in range(n):
        session = i // turns_per_thread
        a, b = NAMES[session % len(NAMES)], NAMES[(session * 7 + 3) % len(NAMES)]
        speaker = (a, b)[i % 2]
        fact = next(facts)
        text = rng.choice(REPLIES) if rng.random() < 0.33 else fact
        day = 1 + session % 28
        items.append({"text": f"{speaker}: {text}", "thread": f"session-{session}",
                      "created_at": f"{2020 + session // 336}-{1 + (session // 28) % 12:02d}-{day:02d}T10:00:00"})
    return items
