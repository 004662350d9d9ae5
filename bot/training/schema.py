"""Hand-written training scenarios (``scenarios.yml``), validated at load like the packs.

A scenario is a situation a practitioner could meet, in the partnership's terms, and the
questions it asks the learner: which route it takes, and for a disagreement which stage comes
next, who is involved there, and its timescale. The correct answers are not written here: they
are read from the partnership's pack (``stage`` names the stage by its key), so a scenario can
never contradict the procedure. ``source`` is the seed section the situation draws on.
"""

from __future__ import annotations

import enum
from typing import List, Optional

from pydantic import Field, validator

from bot.procedures.schema import Model, Source, Subject


class Route(str, enum.Enum):
    DISAGREEMENT = "disagreement"
    IMMEDIATE_RISK = "immediate_risk"
    CONDUCT = "conduct"


class Scenario(Model):
    id: str = Field(..., regex=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    partnership: str
    subject: Subject
    situation: str = Field(..., min_length=40, max_length=600)
    route: Route
    # For a disagreement: the stage key of the pack at which the learner now is (their next
    # step is asked); None means the disagreement has just arisen (the first stage is asked).
    stage: Optional[str] = None
    source: Source

    @validator("stage")
    def _stage_only_for_disagreements(cls, value, values):
        if value is not None and values.get("route") is not Route.DISAGREEMENT:
            raise ValueError("only a disagreement has a stage")
        return value


class ScenarioFile(Model):
    scenarios: List[Scenario] = Field(..., min_items=1)
