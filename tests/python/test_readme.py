"""README's "From Python" example runs exactly as written and prints what it says."""
import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def from_python_example():
    """(the block's script without its `# ` lines, those lines: the output it shows)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    lines = block.splitlines()
    script = "\n".join(l for l in lines if not l.startswith("# "))
    expected = [l[2:] for l in lines if l.startswith("# ")]
    return script, expected


def test_the_readme_example_runs_as_written():
    script, expected = from_python_example()
    assert script.strip() and expected, "README's From Python section has no example"
    build = os.environ.get("PETPREP_BUILD_DIR")
    if build and os.path.abspath(build) != str(ROOT / "build"):
        script = re.sub(r"(?<![\w/.])build/", os.path.abspath(build) + "/", script)
    r = subprocess.run(["bash", "-e", "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == expected
