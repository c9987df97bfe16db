"""README's "From Python" example runs exactly as written and prints what it says."""
import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def from_python_example():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    lines = [l for l in block.splitlines() if l.strip()]
    commands = [l for l in lines if not l.startswith("#")]
    expected = [l[2:] for l in lines if l.startswith("# ")]
    return commands, expected


def test_the_readme_example_runs_as_written():
    commands, expected = from_python_example()
    assert commands, "README's From Python section has no command"
    build = os.environ.get("PETPREP_BUILD_DIR")
    out = []
    for command in commands:
        if build and os.path.abspath(build) != str(ROOT / "build"):
            command = command.replace("build/python", os.path.join(build, "python"))
        r = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        out += r.stdout.splitlines()
    assert out == expected
