"""Every ```python block of README.md runs as written (a README example that does not run is a bug)."""

import re
from pathlib import Path

import pytest
from backend_tools import tensorflow_importable

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 4


# The tf.data examples (samplers, augmentation) need TensorFlow; every other block runs on any backend without it.
NEEDS_TENSORFLOW = {i for i, block in enumerate(BLOCKS)
                    if "import tensorflow" in block or "ImblearnSampler" in block or "balanced_dataset" in block
                    or "image_folder" in block or "output=" in block}


# The worker-pool example starts two processes that import the whole stack (~20 s on 2 cores): make test-slow runs
# it; make test asserts what it prints (the runs of two workers equal one process's) in
# tests/test_parallel.py::test_two_workers_give_the_runs_of_one_process.
STARTS_WORKERS = {i for i, block in enumerate(BLOCKS) if "workers=2" in block}


@pytest.mark.parametrize("index", [pytest.param(i, marks=pytest.mark.slow) if i in STARTS_WORKERS else i
                                   for i in range(len(BLOCKS))])
def test_readme_example_runs(index, capsys):
    code = compile(BLOCKS[index], f"README.md block {index}", "exec")
    if index in NEEDS_TENSORFLOW and not tensorflow_importable():
        # without TensorFlow the block stops at its first tf.data use, with a line saying what to install
        with pytest.raises(ModuleNotFoundError, match=r"tensorflow"):
            exec(code, {"__name__": "__readme__"})
        return
    exec(code, {"__name__": "__readme__"})


def test_one_readme_block_starts_workers():
    assert len(STARTS_WORKERS) == 1  # the slow mark above stays on the one example it was meant for


def test_the_tensorflow_free_blocks_are_most_of_the_readme():
    # the image-folder example reads files through tf.data, the two-head compare feeds its heads through tf.data
    assert len(NEEDS_TENSORFLOW) <= 5 and len(BLOCKS) - len(NEEDS_TENSORFLOW) >= 7
