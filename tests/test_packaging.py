"""The built wheel installs snnc.compiler / snnc.targets / snnc.runtime (no generic top-level names) and runs."""
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_has_the_mapped_packages_and_runs(tmp_path):
    # build from a copy: an in-place build would leave build/ and *.egg-info in the checkout
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv*", "build", "*.egg-info", "__pycache__",
                                                             ".hypothesis", ".pytest_cache", "*.pt", "*.npy"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(src)], check=True, timeout=300)
    (wheel,) = tmp_path.glob("snnc-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "snnc/compiler/ir.py" in names and "snnc/targets/speck.py" in names
    assert "snnc/runtime/simulator/driver.py" in names and "snnc/targets/config_schema.json" in names
    assert not any(n.split("/")[0] in ("compiler", "targets", "runtime", "tests") for n in names)
    # every package folder of the checkout is in the wheel (a new subpackage missing from pyproject's list would
    # work in an editable install and be absent for users)
    for top, installed in (("snnc", "snnc"), ("compiler", "snnc/compiler"), ("targets", "snnc/targets"),
                           ("runtime", "snnc/runtime")):
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.relative_to(ROOT / top).as_posix()
            assert f"{installed}/{rel}" in names, f"{top}/{rel}: package missing from pyproject's packages list"
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, timeout=300)
    code = ("import snnc, snnc.compiler.ir, snnc.targets.config, snnc.runtime.simulator; "
            "print(snnc.compiler.ir.__file__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, check=True).stdout
    assert out.strip().startswith(str(site))
    proc = subprocess.run([sys.executable, "-m", "snnc", "targets"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and "speck2f" in proc.stdout
