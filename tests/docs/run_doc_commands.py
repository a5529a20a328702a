#!/usr/bin/python3
"""Runs every command of the ```sh blocks in README.md, docs/DATA.md and docs/TOUR.md, as
written, in a scratch copy of the project's layout, with tiny sizes so that all of them take
seconds: fails if one does not run (exit status != 0) or if a command has no rule below.

  run_doc_commands.py SOURCE_DIR BUILD_DIR MAKE_TINY_CORPORA      (ctest: docs_commands)

The scratch root has `build` (a link to BUILD_DIR), `scripts` (a link to SOURCE_DIR/scripts), a
copy of docs/results/ and a `data/` made by make_tiny_corpora (tests/tools), with bible-lm and bible-mt laid out as
scripts/prepare_data.sh makes them. Every command is matched against RULES, in order:
  run   flags whose value the command gives are replaced by the tiny value; for a program that
        trains, the missing tiny flags are added; scripts get tiny environment variables (which
        replace a VAR=value the command sets itself);
  skip  the command is not run, for the reason given (it installs packages or needs the network).
Commands run one after another in document order (a later one may use an earlier one's output).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

SOURCE, BUILD, MAKE_CORPORA = (os.path.abspath(a) for a in sys.argv[1:4])
DOCS = ["README.md", "docs/DATA.md", "docs/TOUR.md"]

LM_TINY = {"--layers": "1", "--d-model": "16", "--heads": "2", "--d-head": "8", "--d-ff": "32",
           "--context": "8", "--batch": "2", "--steps": "4", "--min-count": "1",
           "--log-every": "2", "--eval-every": "2", "--checkpoint-every": "2", "--threads": "1"}
LM_ANY = {"--tokens": "5", "--eval-slice": "40", "--eval-stride": "4", "--window-batch": "4",
          "--bench": "2", "--threads": "1"}
MT_TINY = {"--d-model": "16", "--enc-layers": "1", "--dec-layers": "1", "--heads": "2",
           "--d-head": "8", "--d-ff": "32", "--steps": "3", "--max-tokens": "64",
           "--log-every": "1", "--eval-every": "2", "--beam": "2", "--max-len-b": "4",
           "--threads": "1"}
SYN_TINY = {"--max-steps": "2", "--eval-every": "2", "--eval-sequences": "1", "--threads": "1"}
# mpirun as root (a container, CI) needs Open MPI's consent; --oversubscribe: more processes
# than this machine's cores is fine for tiny runs
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1"}
TRAINS = lambda argv: not any(f in argv for f in ("--generate", "--score", "--eval-only", "--help"))

# (pattern on the command, "run" or "skip", tiny flags / reason, env)
RULES = [
    (r"^scripts/(setup|test)\.sh\b", "skip", "installs packages and builds (CI runs scripts/test.sh, "
     "which runs this test)", None),
    (r"^scripts/fuzz\.sh\b", "skip", "builds the fuzz targets with clang and fuzzes each for a "
     "minute", None),
    (r"^scripts/test_aarch64\.sh\b", "skip", "installs the aarch64 cross compiler, qemu-user and arm64 "
     "OpenBLAS (apt) and runs ~10 min under emulation", None),
    (r"^scripts/prepare_data\.sh\b", "skip", "installs diatheke and the SWORD modules (apt)", None),
    (r"^diatheke\b", "skip", "needs diatheke and the SWORD modules (apt)", None),
    (r"^python3 -m venv .*pip install", "skip", "downloads from PyPI", None),
    (r"^\.venv/bin/python scripts/check_bleu\.py", "skip", "needs sacreBLEU from PyPI and the real data", None),
    (r"^(\w+=\S* )*scripts/demo\.sh\b", "run", {}, {"SETUP": "0", "MAX_STEPS": "4"}),
    (r"^printf .* > hosts", "skip", "writes a hostfile for machines that are not here", None),
    (r"^mpirun --hostfile\b", "skip", "needs several machines", None),
    (r"^mpirun .*build/experiments/fwp-lm\b", "run" if shutil.which("mpirun") else "skip",
     ("lm", LM_TINY, LM_ANY) if shutil.which("mpirun") else "mpirun is not installed", MPI_ENV),
    (r"^(\w+=\S* )*build/experiments/fwp-lm\b", "run", ("lm", LM_TINY, LM_ANY), None),
    (r"^(\w+=\S* )*build/experiments/fwp-mt\b", "run", ("mt", MT_TINY, {"--threads": "1"}), None),
    (r"^(\w+=\S* )*build/experiments/fwp-synthetic\b", "run", ("synthetic", SYN_TINY, {}), None),
    (r"^build/experiments/data/fwp-bleu\b", "run", None, None),
    (r"^build/tests/test_\w+", "run", None, None),
    (r"^(/usr/bin/python3 )?scripts/plot_\w+\.py\b", "run", None, None),
    (r"^(\w+=\S* )*build/benchmarks/\S+", "run", None, None),
    (r"^mkdir -p runs/\w+ && cp docs/results/", "run", None, None),
]


def commands(path):
    """The commands of the ```sh blocks of a markdown file: continuation lines joined, comments
    and blank lines dropped."""
    text = open(os.path.join(SOURCE, path)).read()
    out = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M):
        block = block.replace("\\\n", " ")
        for line in block.splitlines():
            line = strip_comment(line).strip()
            if line:
                out.append(re.sub(r"\s+", " ", line))
    return out


def strip_comment(line):
    """The line without a trailing `# comment` (a # that starts a word outside quotes)."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def tiny(command, flags):
    """The command with the tiny values: given flags replaced, training flags added."""
    kind, training, always = flags
    argv = shlex.split(command)
    wanted = dict(always)
    if TRAINS(argv):
        wanted.update(training)
    if kind == "synthetic" and "--sweep" in argv and "--configs" not in argv:
        wanted["--configs"] = "linear_sum"  # one configuration of the sweep: all its S, few steps
    for flag, value in wanted.items():
        if flag in argv:
            i = argv.index(flag)
            argv[i + 1] = value
        elif (flag in training or flag == "--configs") and TRAINS(argv):
            argv += [flag, value]
    return shlex.join(argv)


def main():
    root = tempfile.mkdtemp(prefix="fwp_doc_commands_")
    os.symlink(BUILD, os.path.join(root, "build"))
    os.symlink(os.path.join(SOURCE, "scripts"), os.path.join(root, "scripts"))
    shutil.copytree(os.path.join(SOURCE, "docs/results"), os.path.join(root, "docs/results"))
    subprocess.run([MAKE_CORPORA, os.path.join(root, "data")], check=True)
    with open(os.path.join(root, "hyp.txt"), "w") as fh:  # a user's translations
        fh.write(open(os.path.join(root, "data/bible-mt/test.en")).read())
    env = dict(os.environ, OMP_NUM_THREADS="1")
    failures, ran, skipped = [], 0, 0
    for doc in DOCS:
        for command in commands(doc):
            rule = next((r for r in RULES if re.search(r[0], command)), None)
            if rule is None:
                failures.append(f"{doc}: no rule for `{command}` (add one to {sys.argv[0]})")
                print(f"FAIL  {doc}: {command}\n      no rule in run_doc_commands.py", flush=True)
                continue
            _, action, flags, extra_env = rule
            if action == "skip":
                skipped += 1
                print(f"skip  {doc}: {command}\n      ({flags})", flush=True)
                continue
            run = tiny(command, flags) if flags else command
            for var in extra_env or {}:  # the tiny value replaces the command's own VAR=value
                run = re.sub(rf"(^|\s){var}=\S*\s", r"\1", run)
            start = time.time()
            try:
                r = subprocess.run(["bash", "-c", run], cwd=root, env=dict(env, **(extra_env or {})),
                                   capture_output=True, text=True, timeout=120)
            except subprocess.TimeoutExpired as e:
                r = subprocess.CompletedProcess(run, 124, e.stdout or "", "timed out after 120 s")
                r.stdout = r.stdout.decode() if isinstance(r.stdout, bytes) else r.stdout
            ran += 1
            seconds = time.time() - start
            print(f"{'ok  ' if r.returncode == 0 else 'FAIL'}  {doc}: {command}\n      as `{run}`"
                  f"{' with ' + str(extra_env) if extra_env else ''}: {seconds:.1f} s", flush=True)
            if r.returncode != 0:
                failures.append(f"{doc}: `{command}` exited with {r.returncode}")
                print("      " + (r.stdout + r.stderr)[-3000:].replace("\n", "\n      "), flush=True)
    shutil.rmtree(root)
    print(f"{ran} commands run, {skipped} skipped, {len(failures)} failed")
    for f in failures:
        print("  " + f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
