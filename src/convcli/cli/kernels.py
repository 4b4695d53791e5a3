"""``convcli kernels``: the named kernels, listed or shown as a matrix (the kernel file format)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..i18n import N_, tr
from .common import HelpGroup, Typer, echo, is_tty, print_json, table
from .options import Json, complete_kernels

kernels_app = Typer(
    cls=HelpGroup,
    help="List the named kernels, or show one as a matrix.\n\n"
    "Example:\n\n"
    "\b\n"
    "    convcli kernels\n"
    "    convcli kernels --json\n"
    "    convcli kernels show sharpen > my-kernel.txt",
    short_help="List the named kernels, or show one as a matrix.",
    invoke_without_command=True,
    no_args_is_help=False,
    rich_markup_mode=None,
)


@kernels_app.callback()
def kernels_list(ctx: typer.Context, json_: Json = False) -> None:
    """List the named kernels (name, size, description); ``--help`` is the group's (above)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..filtering.kernels import list_kernels

    kernels = list_kernels()
    if json_:
        for k in kernels:
            print_json({"name": k.name, "size": list(k.weights.shape), "bias": k.bias, "description": k.description})
        return
    columns = [N_("name"), N_("size"), N_("description")]
    shown = tr if is_tty() else str  # a person reads the catalog's words; piped: the file's, for scripts
    table(N_("Named kernels"), columns, [[k.name, k.size, shown(k.description or "")] for k in kernels])


@kernels_app.command("show")
def kernels_show(
    name: Annotated[
        str,
        typer.Argument(help="A kernel name (see `convcli kernels`) or a kernel file.", autocompletion=complete_kernels),
    ],
    json_: Json = False,
) -> None:
    """Print a kernel as a matrix, in the kernel file format (save it, edit it, use it).

    Example:

    \b
        convcli kernels show edges
    """
    from ..filtering.kernels import load_kernel

    kernel = load_kernel(name)
    if json_:
        print_json(
            {
                "name": kernel.name,
                "size": list(kernel.weights.shape),
                "weights": kernel.weights.tolist(),
                "bias": kernel.bias,
                "description": kernel.description,
            }
        )
        return
    echo(kernel.to_text())
