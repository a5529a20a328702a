#!/usr/bin/python3
"""The Python scripts of scripts/: one interpreter convention, a clear message without
matplotlib, plain numbers on log axes. Run by ctest: test_scripts.py SOURCE_DIR."""
import os
import subprocess
import sys
import tempfile

SOURCE = os.path.abspath(sys.argv[1])
SCRIPTS = os.path.join(SOURCE, "scripts")
sys.path.insert(0, SCRIPTS)
failures = []


def check(ok, what):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)


# 1. every script names the same interpreter: Debian's, for which setup.sh installs matplotlib
for name in sorted(os.listdir(SCRIPTS)):
    if name.endswith(".py"):
        with open(os.path.join(SCRIPTS, name)) as fh:
            first = fh.readline().rstrip("\n")
        check(first == "#!/usr/bin/python3", f"{name} starts with #!/usr/bin/python3 (has {first!r})")

with tempfile.TemporaryDirectory() as tmp:
    summary = os.path.join(tmp, "summary.csv")
    with open(summary, "w") as fh:
        fh.write("setting,config,S,seed,final_eval_loss,best_eval_loss,steps,seconds,"
                 "train_steps_per_second,stop_reason\n"
                 "2,linear_delta,20,1,0.0009,0.0009,300,1.5,200,solved\n"
                 "2,linear_delta,40,1,0.02,0.02,600,3.1,200,no improvement\n")
    # 2. an interpreter without matplotlib: a message naming it and what to install, no traceback
    fake = os.path.join(tmp, "fake_site", "matplotlib")
    os.makedirs(fake)
    with open(os.path.join(fake, "__init__.py"), "w") as fh:
        fh.write("raise ImportError('no matplotlib here (test)')\n")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(fake))
    for script in ("plot_synthetic.py", "plot_curves.py"):
        args = [summary, "--out", tmp] if script == "plot_synthetic.py" else \
               [summary, "--x", "S", "--y", "final_eval_loss", "--out", os.path.join(tmp, "c.png")]
        r = subprocess.run([sys.executable, os.path.join(SCRIPTS, script)] + args, env=env,
                           capture_output=True, text=True)
        check(r.returncode != 0 and "matplotlib is not installed" in r.stderr
              and "python3-matplotlib" in r.stderr and "Traceback" not in r.stderr,
              f"{script} without matplotlib: clear message (got rc {r.returncode}, {r.stderr.strip()!r})")
    # ... and with it, the plots are written
    r = subprocess.run([sys.executable, os.path.join(SCRIPTS, "plot_synthetic.py"), summary,
                        "--out", tmp], capture_output=True, text=True)
    check(r.returncode == 0 and os.path.exists(os.path.join(tmp, "synthetic_setting2.png")),
          f"plot_synthetic.py draws setting 2 ({r.stderr.strip()!r})")

# 3. log axes read 86, 90, 100, not 8.6x10^1
from plotting import plain_log_ticks, pyplot  # noqa: E402

plt = pyplot()
for lo, hi in ((80.0, 95.0), (0.0005, 0.5)):
    fig, ax = plt.subplots()
    ax.plot([1, 2], [lo, hi])
    ax.set_yscale("log")
    plain_log_ticks(ax.yaxis)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.yaxis.get_majorticklabels() + ax.yaxis.get_minorticklabels()]
    labels = [t for t in labels if t]
    check(labels and all("times" not in t and "^" not in t and "$" not in t for t in labels),
          f"log axis {lo}..{hi}: plain labels {labels}")
    plt.close(fig)

print(f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
