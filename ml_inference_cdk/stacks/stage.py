"""MlInferenceStage: one StageConfig's stacks as a cdk.Stage, the unit the delivery pipeline deploys."""

from __future__ import annotations

from typing import Any

from aws_cdk import Environment, Stack, Stage
from constructs import Construct

from ..config import StageConfig
from . import add_stacks


class MlInferenceStage(Stage):
    """The stacks of `config` (the same ids, names and templates as a direct `cdk deploy`), in the
    stage's account and region. Its id is the stage's name with a capital (`Dev`, `Prod`)."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(
            scope, construct_id, env=Environment(account=config.account, region=config.region), **kwargs
        )
        #: The stage's settings.
        self.config = config
        #: The stage's stacks by target ("Network", "Lambda", ...).
        self.stacks: dict[str, Stack] = add_stacks(self, config)


__all__ = ["MlInferenceStage"]
