"""Say on each gallery page where its output was made.

Sphinx-Gallery reruns an example only when its source changed, so the
figures on a page can be older than the build and come from another machine.
Just before an example runs, :func:`record_run` writes a line describing the
machine next to the example's other outputs in the gallery folder; when the
page is read, :func:`add_run_record` puts that line under Sphinx-Gallery's
"Total running time of the script".
"""

import datetime
import os
import platform
from pathlib import Path

RUN_TIME_LINE = "**Total running time of the script:**"


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe_machine():
    """One line: CPU, cores, GPU, versions and the date."""
    import torch

    import sklearn_ali

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = cores or os.cpu_count()
    if torch.cuda.is_available():
        gpu = f"GPU {torch.cuda.get_device_name(0)}"
    else:
        gpu = "no GPU"
    return (
        f"{platform.system()} {platform.machine()}, {cores} CPU cores "
        f"({_cpu_name()}), {gpu}, {torch.get_num_threads()} torch threads; "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"sklearn-ali {sklearn_ali.__version__}; "
        f"{datetime.date.today().isoformat()}"
    )


def record_path(gallery_dir, example_name):
    return Path(gallery_dir) / f"{Path(example_name).stem}.run.txt"


def record_run(gallery_conf, fname, when):
    """A ``reset_modules`` hook: called before each example runs."""
    if when != "before" or fname is None:
        return
    # fname is the example's file name; all examples live in one gallery.
    (gallery_dir,) = gallery_conf["gallery_dirs"]
    path = record_path(Path(gallery_conf["src_dir"]) / gallery_dir, fname)
    path.write_text(describe_machine() + "\n", encoding="utf-8")


def add_run_record(app, docname, source):
    gallery_dir = app.config.sphinx_gallery_conf["gallery_dirs"][0]
    if not docname.startswith(gallery_dir + "/"):
        return
    path = record_path(Path(app.srcdir) / gallery_dir, docname.rsplit("/", 1)[1])
    if not path.is_file() or RUN_TIME_LINE not in source[0]:
        return
    machine = path.read_text(encoding="utf-8").strip()
    text = source[0]
    start = text.index(RUN_TIME_LINE)
    end = text.index("\n", start)
    source[0] = f"{text[:end]}\n\n**Run on:** {machine}\n{text[end:]}"


def setup(app):
    app.connect("source-read", add_run_record)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
