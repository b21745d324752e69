"""``python -m adkit``: the command line of :mod:`adkit.cli` (the same as the ``adkit`` command)."""

if __name__ == "__main__":  # not when pytest imports this module to look for doctests
    from adkit.cli import main

    raise SystemExit(main(prog="python -m adkit"))
