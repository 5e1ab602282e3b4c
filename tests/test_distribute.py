"""Samplers and sample weights under tf.distribute: the same losses and weights with and without a strategy.

TensorFlow fixes its devices when it first uses them, and the test process has long done so; each check therefore
runs in a fresh interpreter that configures two logical CPU devices (MirroredStrategy) or joins a two-worker cluster
on localhost (MultiWorkerMirroredStrategy, marked slow) before anything else.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")

COMMON = textwrap.dedent(
    """
    import json, os, sys
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
    import numpy as np
    import tensorflow as tf
    {setup}
    import keras
    from imbalance.data import augment_classes, balanced_dataset

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [200, 40, 10])
    x = (rng.standard_normal((y.size, 6)) + y[:, None]).astype("float32")
    w = rng.uniform(0.5, 2.0, y.size).astype("float32")

    def data():  # 600 rows per epoch in batches of 32: 18 full batches and a partial one of 24 rows
        ds = balanced_dataset(x, y, batch_size=32, seed=3, sample_weight=w)
        return augment_classes(ds, lambda t: t * 1.5, classes=2)

    def build():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3)])
        model.compile(optimizer=keras.optimizers.SGD(0.05),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    def train(skip=0):
        model = build()
        ds = data()
        for _ in range(skip):  # every new iterator is a new draw: skip draws as an unused iterator would
            iter(ds)
        history = model.fit(ds, epochs=2, verbose=0)
        return history.history["loss"], [v.tolist() for v in model.get_weights()]
    """
)

MIRRORED = COMMON.format(setup=textwrap.dedent(
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    """
)) + textwrap.dedent(
    """
    plain = [train(skip) for skip in range(3)]
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = train()
    print("RESULT " + json.dumps({"replicas": strategy.num_replicas_in_sync, "plain": plain, "mirrored": mirrored}))
    """
)


def _run(script, env=None, timeout=300):
    environment = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment,
                          timeout=timeout)


def _result(completed):
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    assert completed.returncode == 0 and lines, completed.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def _same_run(a, b):
    """Same losses and weights (to float32 tolerance)."""
    if not np.allclose(a[0], b[0], rtol=1e-4):
        return False
    return all(np.allclose(np.array(x), np.array(y), rtol=1e-4, atol=1e-5) for x, y in zip(a[1], b[1]))


def _matching_plain_run(distributed, plain_runs):
    """Under a strategy Keras opens (and drops) an extra iterator before training to build the model, and every
    iterator is a new draw: the distributed run trains on the draws of the plain run that skipped that many."""
    assert not _same_run(plain_runs[0], plain_runs[1]) and not _same_run(plain_runs[1], plain_runs[2])
    matches = [skip for skip, run in enumerate(plain_runs) if _same_run(distributed, run)]
    assert matches, (distributed[0], [run[0] for run in plain_runs])
    return matches[0]


def test_mirrored_strategy_on_two_logical_cpus_gives_the_same_losses_and_weights():
    result = _result(_run(MIRRORED))
    assert result["replicas"] == 2
    _matching_plain_run(result["mirrored"], result["plain"])


# Keras 3's model.fit does not run under MultiWorkerMirroredStrategy (keras-team/keras#20585: "Attempt to convert a
# value (PerReplica...)" while it builds the model), so several machines train with a custom loop over
# strategy.experimental_distribute_dataset — the pipeline is the same.
MULTI_WORKER = COMMON.format(setup="") + textwrap.dedent(
    """
    def custom_loop(strategy, skip=0):
        with strategy.scope():
            model = build()
            optimizer = keras.optimizers.SGD(0.05)
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        ds = balanced_dataset(x, y, batch_size=40, seed=3, sample_weight=w).with_options(options)  # 15 batches
        for _ in range(skip):
            iter(ds)
        batches = strategy.experimental_distribute_dataset(ds)

        @tf.function
        def step(batch):
            def replica_step(xb, yb, wb):
                with tf.GradientTape() as tape:
                    per_row = keras.losses.sparse_categorical_crossentropy(yb, model(xb, training=True),
                                                                           from_logits=True)
                    loss = tf.reduce_sum(per_row * wb) / 40.0  # mean over the global batch
                grads = tape.gradient(loss, model.trainable_variables)
                optimizer.apply_gradients(zip(grads, model.trainable_variables))
                return loss
            return strategy.reduce("SUM", strategy.run(replica_step, args=batch), axis=None)

        losses = []
        for _ in range(2):
            losses.append(float(sum(step(batch) for batch in batches)) / 15)
        return losses, [v.tolist() for v in model.get_weights()]

    if os.environ.get("TF_CONFIG"):
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        result = custom_loop(strategy)
    else:
        result = [custom_loop(tf.distribute.get_strategy(), skip) for skip in range(3)]
    print("RESULT " + json.dumps(result))
    """
)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_multi_worker_mirrored_strategy_with_two_local_workers_matches_one_process():
    """Two worker processes on localhost draw the same epoch (same seed), each trains on its shard of every global
    batch, and the synchronised model ends where one process training on whole batches ends."""
    ports = _free_ports(2)
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    environment = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    workers = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        workers.append(subprocess.Popen([sys.executable, "-c", MULTI_WORKER], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env={**environment, "TF_CONFIG": config}))
    outputs = []
    for process in workers:
        try:
            stdout, stderr = process.communicate(timeout=400)
        except subprocess.TimeoutExpired:
            for other in workers:
                other.kill()
            raise
        outputs.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    results = [_result(completed) for completed in outputs]
    single = _result(_run(MULTI_WORKER))
    assert _same_run(results[0], results[1])
    _matching_plain_run(results[0], single)
