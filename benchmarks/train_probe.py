"""Train with convcli's library and report test accuracy after every epoch (benchmark only).

Prints one JSON line per epoch: {"epoch", "test_accuracy", "t"} where ``t`` is seconds since
the parent started this process (``BENCH_T0``), so start-up is included. Training itself never
sees these numbers: they come from a Keras callback that only measures.

    python benchmarks/train_probe.py cnn [--epochs N] [--layers SPEC] [--lr F] [--schedule S] ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

T0 = float(os.environ.get("BENCH_T0", time.time()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("preset", nargs="?", default="cnn")
    parser.add_argument("--layers")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--schedule")
    parser.add_argument("--augment", type=int)
    parser.add_argument("--label-smoothing", type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", default=os.environ.get("CONVCLI_DATA_DIR"))
    parser.add_argument("-o", "--output", default="/tmp/convcli-bench-cnn.keras")
    args = parser.parse_args()

    from convcli.backend import keras
    from convcli.datasets.idx import load_dataset
    from convcli.prediction.evaluation import evaluate_arrays
    from convcli.training.run import TrainConfig, train

    config = TrainConfig.from_preset(
        None if args.layers else args.preset,
        args.layers,
        output=args.output,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        schedule=args.schedule,
        augment=None if args.augment is None else bool(args.augment),
        label_smoothing=args.label_smoothing,
        seed=args.seed,
        data_dir=args.data_dir,
    )
    test = load_dataset(config.dataset, config.data_dir)

    class Probe(keras().callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs=None) -> None:  # type: ignore[no-untyped-def]
            pause = time.time()
            accuracy = evaluate_arrays(self.model, test.x_test, test.y_test).accuracy
            line = {"epoch": epoch + 1, "test_accuracy": accuracy, "t": pause - T0, "eval_seconds": time.time() - pause}
            print(json.dumps(line), flush=True)

    result = train(config, callbacks=[Probe()])
    print(
        json.dumps(
            {
                "final_test_accuracy": result.record["test"]["accuracy"],
                "t": time.time() - T0,
                "train_seconds": result.record["seconds"],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
