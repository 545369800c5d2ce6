import subprocess
import sys

import policywright


def test_public_names_resolve():
    for name in policywright.__all__:
        assert getattr(policywright, name) is not None


def test_import_is_light():
    code = "import sys, policywright; print('langgraph' in sys.modules, 'pybullet' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
