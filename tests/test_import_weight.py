"""The minimal tier's promise: `import memento` and a keyword recall never load heavy modules."""
from __future__ import annotations

import json

import pytest

from .conftest import run_python

HEAVY = ("numpy", "fastembed", "onnxruntime", "tokenizers", "sqlite_vec", "huggingface_hub")


@pytest.mark.spawns_python
def test_minimal_recall_imports_nothing_heavy(tmp_path):
    code = f"""
import json, sys
import memento
with memento.open({str(tmp_path / 'w.db')!r}, tier="minimal") as mem:
    mem.remember("keyword only please")
    assert mem.recall("keyword")
print(json.dumps(sorted({{name.split('.')[0] for name in sys.modules}})))
"""
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert "memento" in loaded and "apsw" in loaded
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
