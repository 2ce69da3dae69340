"""What every step's configuration dataclass shares: command-line options declared on its fields.

A field that is an option carries its flag and help in its metadata, built by :func:`option`::

    z_dim: int = field(default=256, metadata=option("--z-dim", "latent dimension"))

From that one declaration come the command's argparse arguments (:func:`add_options`), the
values a user gave (:func:`given_options`) and the command line that gives a config's values
back (:func:`option_argv`), so a field cannot be parsed and forgotten, or recorded and left
out of a reproduction command. The parsing type follows the field's annotation (``int``,
``float``, ``str``, ``tuple[int, ...]`` as a comma list, each also ``| None``) unless the
declaration names one. A ``bool`` field is a switch: ``--flag`` turns on a field that
defaults to off, ``--no-flag`` off one that defaults to on. An option declared with
``nargs="+"`` takes one or more words, each parsed alone, and its tuple value is spelled back
as one word per item; one declared with ``repeat=True`` is given once per item (``--param
a=1 --param b=2``), and its value spelled back one flag per item.

Options are added with ``default=argparse.SUPPRESS``: an option the user does not give is
absent from the parsed arguments and the dataclass fills it in, so each default is written
once, in the dataclass; the help quotes it from there.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, Field, fields
from typing import Any, Callable, Iterator


def parse_int_list(text: str) -> tuple[int, ...]:
    """``"8,8,16,16"`` -> ``(8, 8, 16, 16)``; argparse's error for anything else."""
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


# How the annotation of an option field (without "| None") parses from the command line.
PARSERS: dict[str, Callable[[str], Any]] = {"int": int, "float": float, "str": str, "tuple[int, ...]": parse_int_list}


def option(flag: str, help: str, *, metavar: str | None = None, choices=None, parse: Callable | None = None,
           group: str | None = None, exclusive: str | None = None, required: bool = False, nargs: str | None = None,
           repeat: bool = False, spell: Callable[[Any], list[str]] | None = None, **metadata) -> dict:
    """Field metadata declaring a command-line option.

    flag: ``--name`` (``--no-name`` for a switch that turns off a field defaulting to True);
    help: its help text (the default is appended); choices: the allowed values (or a
    zero-argument callable returning them, read when the parser is built); parse: text ->
    value, instead of the one the annotation implies; group: the title of the help section it
    is listed in; exclusive: options sharing this name exclude each other; nargs: ``"+"`` for
    an option taking one or more words (``--pairs 0,1 3,7``); repeat: the option may be given
    several times, each adding an item; spell: value -> the words of its items, for an option
    with nargs or repeat whose value is no sequence of items (default: each item formatted by
    :func:`format_option_value`). Further keywords
    are kept as metadata of the field (``free_on_resume=True``, ``recorded=False``).
    """
    if not flag.startswith("--"):
        raise ValueError(f"an option's flag starts with '--', got {flag!r}")
    return {"flag": flag, "help": help, "metavar": metavar, "choices": choices, "parse": parse, "group": group,
            "exclusive": exclusive, "required": required, "nargs": nargs, "repeat": repeat, "spell": spell,
            **metadata}


def dataclass_default(cls, name: str):
    """The default of field ``name`` of dataclass ``cls``, as it would be filled in."""
    field = next(f for f in fields(cls) if f.name == name)
    if field.default is not MISSING:
        return field.default
    return field.default_factory()  # type: ignore[misc]


def option_fields(cls) -> Iterator[Field]:
    """The fields of dataclass ``cls`` that are command-line options, in declaration order."""
    return (f for f in fields(cls) if "flag" in f.metadata)


def _base_type(f: Field) -> str:
    """The field's annotation without ``| None`` (modules declaring options use postponed annotations)."""
    text = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return text.replace(" | None", "")


def _is_switch(f: Field) -> bool:
    return _base_type(f) == "bool"


def default_text(cls, name: str) -> str:
    """``"(default 256)"`` from the dataclass, lists as the command line spells them; "" for None or nothing."""
    value = dataclass_default(cls, name)
    nothing = value is None or (isinstance(value, (dict, list, tuple)) and not value)
    return "" if nothing else f"(default {format_option_value(value)})"


def add_options(parser: argparse.ArgumentParser, *classes, skip: tuple[str, ...] = ()) -> None:
    """Add an argument for each option field of the dataclasses ``classes`` (but those named in ``skip``).

    Options of several classes that name the same help section or exclusive set share it.
    """
    sections: dict[str, Any] = {}
    exclusive: dict[str, Any] = {}
    for cls in classes:
        for f in option_fields(cls):
            if f.name not in skip:
                _add_option(parser, cls, f, sections, exclusive)


def _add_option(parser: argparse.ArgumentParser, cls, f: Field, sections: dict, exclusive: dict) -> None:
    meta = f.metadata
    where = parser
    if meta.get("group"):
        if meta["group"] not in sections:
            sections[meta["group"]] = parser.add_argument_group(meta["group"])
        where = sections[meta["group"]]
    if meta.get("exclusive"):
        if meta["exclusive"] not in exclusive:
            exclusive[meta["exclusive"]] = where.add_mutually_exclusive_group()
        where = exclusive[meta["exclusive"]]
    kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS}
    if _is_switch(f):
        kwargs["action"] = "store_false" if dataclass_default(cls, f.name) else "store_true"
        kwargs["help"] = meta["help"]
    else:
        parse = meta.get("parse") or PARSERS.get(_base_type(f))
        if parse is None:
            raise TypeError(f"{cls.__name__}.{f.name}: no parser for {f.type!r}; declare one with parse=")
        shown_default = "" if meta["required"] else default_text(cls, f.name)
        kwargs.update(type=parse, required=meta["required"], help=" ".join(filter(None, (meta["help"], shown_default))))
        choices = meta.get("choices")
        if choices is not None:
            kwargs["choices"] = list(choices() if callable(choices) else choices)
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if meta.get("nargs"):
            kwargs["nargs"] = meta["nargs"]
        if meta.get("repeat"):
            kwargs["action"] = "append"
    where.add_argument(meta["flag"], **kwargs)


def given_options(args: argparse.Namespace, cls) -> dict:
    """The option fields of ``cls`` that the user gave (the others were suppressed), by field name."""
    return {f.name: getattr(args, f.name) for f in option_fields(cls) if hasattr(args, f.name)}


def format_option_value(value) -> str:
    """A value as the command line spells it: 1.0 -> '1', (8, 16) -> '8,16', 0.001 -> '0.001'."""
    if isinstance(value, (list, tuple)):
        return ",".join(format_option_value(v) for v in value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def option_argv(config, skip: tuple[str, ...] = ()) -> list[str]:
    """The command-line words that give ``config``'s option fields their values.

    Every option with a value is spelled out (so the command means the same when a default
    changes), a switch only when it is off its default; None values are left to the default.
    """
    argv: list[str] = []
    for f in option_fields(type(config)):
        value = getattr(config, f.name)
        if f.name in skip or value is None:
            continue
        if _is_switch(f):
            if bool(value) != bool(dataclass_default(type(config), f.name)):
                argv.append(f.metadata["flag"])
            continue
        meta = f.metadata
        if meta.get("nargs") or meta.get("repeat"):
            words = meta["spell"](value) if meta.get("spell") else [format_option_value(item) for item in value]
            if meta.get("repeat"):
                argv += [word for item in words for word in (meta["flag"], item)]
            elif words:
                argv += [meta["flag"], *words]
        else:
            argv += [f.metadata["flag"], format_option_value(value)]
    return argv
