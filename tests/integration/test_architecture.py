"""The layers of docs/DESIGN.md hold: no two files of src/ call each other
in a loop (scripts/call_graph.py, from the build's objects)."""

import subprocess
import sys

from conftest import BUILD, REPO


def test_no_two_files_of_src_call_each_other_in_a_loop():
    res = subprocess.run([sys.executable, str(REPO / "scripts/call_graph.py"), str(BUILD)],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "no loop" in res.stdout


def test_the_check_finds_a_loop(tmp_path):
    # the check itself: two objects that call each other must be reported
    src = tmp_path / "src" / "x"
    src.mkdir(parents=True)
    (src / "a.c").write_text("void b(void); void a(void) { b(); }\n")
    (src / "b.c").write_text("void a(void); void b(void) { a(); }\n")
    objs = tmp_path / "build" / "CMakeFiles" / "t.dir" / "src" / "x"
    objs.mkdir(parents=True)
    for name in ("a", "b"):
        subprocess.run(["cc", "-c", str(src / (name + ".c")), "-o", str(objs / (name + ".c.o"))], check=True)
    code = ("import sys; sys.argv = ['call_graph', %r]; import importlib.util as u; "
            "s = u.spec_from_file_location('cg', %r); m = u.module_from_spec(s); s.loader.exec_module(m); "
            "m.REPO = %r; sys.exit(m.main())" % (str(tmp_path / "build"), str(REPO / "scripts/call_graph.py"),
                                                  str(tmp_path)))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "x/a.c -> x/b.c" in res.stdout and "x/b.c -> x/a.c" in res.stdout


def test_the_readmes_layout_section_is_made_from_the_tree():
    res = subprocess.run([sys.executable, str(REPO / "scripts/layout.py"), "--check"], capture_output=True,
                         text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
