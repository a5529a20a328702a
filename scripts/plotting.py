#!/usr/bin/python3
"""What fwp's plotting scripts share: importing matplotlib, and plain numbers on log axes.

Every Python script in scripts/ starts with #!/usr/bin/python3, Debian's interpreter, for which
scripts/setup.sh installs python3-matplotlib; another python3 first on PATH (pyenv, conda, a venv)
does not change which one runs them. Run with another interpreter, a script that plots stops
with a message saying what to install, instead of a traceback.
"""
import sys


def pyplot():
    """matplotlib.pyplot with the file-only Agg backend; exits with a clear message without it."""
    try:
        import matplotlib
    except ImportError:
        sys.exit(f"{sys.argv[0]}: matplotlib is not installed for {sys.executable}. Install Debian's "
                 "python3-matplotlib (scripts/setup.sh does) and run the script as it is "
                 "(#!/usr/bin/python3), or `pip install matplotlib` for this interpreter.")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def plain_log_ticks(axis):
    """Tick labels of a log-scale axis (ax.yaxis) as plain numbers - 86, 100, 0.001 - instead of
    matplotlib's default scientific notation (8.6x10^1). Call it after set_yscale("log")."""
    from matplotlib import ticker

    class PlainLogFormatter(ticker.LogFormatter):
        # LogFormatter still decides WHICH ticks get a label (decades; minor ticks when the axis
        # spans little), as the default formatter does; only the text changes.
        def _num_to_string(self, x, vmin, vmax):
            return f"{x:g}"

    axis.set_major_formatter(PlainLogFormatter())
    axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False))
