"""Settings read from the environment or a .env file, all prefixed RELAIS_."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RELAIS_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///relais.db"
    data_dir: Path = Path("data")
    log_level: str = "INFO"
    log_json: bool = False

    # Conversations left mid-flow expire after this many minutes of silence.
    conversation_ttl_minutes: int = 24 * 60
    # Seed the demo territory and members on an empty database (console and first start).
    demo_seed: bool = True
    # …with sample reports, partner places and meetings (off in the test suite, which builds its own).
    demo_content: bool = True

    telegram_token: str = ""
    telegram_api_url: str = ""  # e.g. http://127.0.0.1:8081/bot (the token is appended)
    telegram_webhook_url: str = ""
    telegram_webhook_listen: str = "127.0.0.1:8443"
    # Checked on every webhook call. Give the same one to every process behind a load balancer (without it, one
    # is derived from the token: the same in every process, but it changes with the token).
    telegram_webhook_secret: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{0,256}$")] = ""

    matrix_homeserver: str = ""
    matrix_user: str = ""
    matrix_password: str = ""
    matrix_access_token: str = ""
    matrix_allowed_servers: str = ""  # comma-separated, wildcards allowed; default: the bot's own server

    api_listen: str = ""  # e.g. 127.0.0.1:8080; empty: no HTTP API

    outbox_max_attempts: int = 40  # with backoff capped at 10 min: about 5 hours of platform outage
    controller_contact: str = "le service de coordination de votre département"
    retention_months: int = 24  # field reports are anonymised after this many months
    rate_limit_per_minute: int = 30  # messages a person may send per minute before being asked to slow down
    max_message_length: int = 4000
    # An edited copy of storage/reference/themes.toml (read by storage/themes.py straight from the environment).
    themes_file: str = ""

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_token)

    @property
    def matrix_enabled(self) -> bool:
        return bool(self.matrix_homeserver and self.matrix_user
                    and (self.matrix_password or self.matrix_access_token))

    @cached_property
    def data_path(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir
