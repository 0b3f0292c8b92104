"""`wanform emulator`: the offline DashScope emulator as a server."""

from __future__ import annotations

from collections.abc import Mapping

import click

from wanform.emulator import EmulatorConfig, serve
from wanform.emulator.config import INPUT_STORE_BYTES
from wanform.runner import signals
from wanform.runner.cli.options import variants_option
from wanform.runner.cli.steps import fail
from wanform.spec.models import MB, ModelSpec


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="0 picks a free port.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Virtual clock speed (2 = tasks finish twice as fast; 0 = frozen).",
)
@click.option(
    "--clock-skew",
    type=float,
    default=0.0,
    show_default=True,
    metavar="SECONDS",
    help="Run the service's clock this far ahead of this machine's (negative: behind), to test "
    "clients against a skewed service clock.",
)
@click.option(
    "--scenario", type=click.Path(exists=True, dir_okay=False), help="YAML file of fault rules."
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for random faults and default seeds.",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY",
    help="Accept only this key (repeatable); default: any key starting with sk-.",
)
@click.option(
    "--input-store-mb",
    type=click.IntRange(min=1),
    default=INPUT_STORE_BYTES // MB,
    show_default=True,
    envvar="WANFORM_EMULATOR_INPUT_STORE_MB",
    help="Disk cap on the tasks' input images (env WANFORM_EMULATOR_INPUT_STORE_MB); past it the "
    "least recently used go, those of tasks done drawing first.",
)
@click.option(
    "--loopback-inputs",
    is_flag=True,
    help="Fetch input image URLs on this machine's loopback (127.0.0.1, localhost), for tests "
    "that serve their images locally; by default only public addresses are fetched.",
)
@variants_option
def emulator(
    host: str,
    port: int,
    speed: float,
    clock_skew: float,
    scenario: str | None,
    seed: int,
    api_keys: tuple[str, ...],
    input_store_mb: int,
    loopback_inputs: bool,
    models: Mapping[str, ModelSpec],
) -> None:
    """Serve the offline DashScope emulator until Ctrl-C or SIGTERM (then exit 0 within 2 s);
    prints its base URL and its dashboard's.

    Where the API documents are silent or disagree, it answers as spec/guesses.yaml's defaults
    say; --variants picks the alternatives (service.over_cap=queue queues tasks over the
    in-flight cap instead of answering 429)."""
    try:
        config = EmulatorConfig(
            host=host,
            port=port,
            speed=speed,
            clock_skew=clock_skew,
            scenario=scenario,
            seed=seed,
            api_keys=api_keys,
            input_store_bytes=input_store_mb * MB,
            loopback_inputs=loopback_inputs,
            models=models,
        )
        serve(config)
    except signals.Signalled:
        signals.heed()  # Ctrl-C is how the server is meant to stop: exit 0
        return
    except ValueError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
