"""What every command shares: the ``--db`` and ``--as`` options and the wired services."""

from __future__ import annotations

from dataclasses import dataclass, field

import typer

from isthmus.bootstrap import Container, build, cli_principal
from isthmus.security import Principal
from isthmus.settings import Settings, load_settings


@dataclass
class CliState:
    db_url: str | None = None
    as_user: str | None = None
    _settings: Settings | None = None
    _container: Container | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings().with_db(self.db_url)
        return self._settings

    def container(self, *, check_schema: bool = True) -> Container:
        if self._container is None:
            self._container = build(self.settings(), check_schema=check_schema)
        return self._container

    def principal(self) -> Principal:
        return cli_principal(self.container(), self.as_user)

    def close(self) -> None:
        if self._container is not None:
            self._container.close()


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
