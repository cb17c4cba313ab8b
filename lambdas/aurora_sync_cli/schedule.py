"""The hourly sync's EventBridge Scheduler schedule (terraform/modules/aws_orchestration/schedules.tf).

UpdateSchedule replaces the whole definition (Scheduler API reference: "you must provide all
required parameters ... otherwise they are set to their default"), so the state is changed by
writing back what GetSchedule returned with only `State` changed.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from aurora_sync.adapters.aws_errors import classify

# GetSchedule's fields that UpdateSchedule takes (the rest, Arn, CreationDate ..., it refuses).
UPDATABLE = (
    "Name",
    "GroupName",
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "EndDate",
    "Description",
    "State",
    "KmsKeyArn",
    "Target",
    "FlexibleTimeWindow",
    "ActionAfterCompletion",
)


class SyncSchedule:
    def __init__(self, scheduler: Any, name: str, group: str) -> None:
        self._scheduler = scheduler
        self.name = name
        self.group = group

    def _get(self) -> dict[str, Any]:
        try:
            return dict(self._scheduler.get_schedule(Name=self.name, GroupName=self.group))
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"scheduler:GetSchedule {self.group}/{self.name}") from exc

    def state(self) -> str:
        """ENABLED or DISABLED."""
        return str(self._get().get("State", ""))

    def set_state(self, state: str) -> None:
        current = self._get()
        update = {k: current[k] for k in UPDATABLE if current.get(k) is not None}
        update["State"] = state
        try:
            self._scheduler.update_schedule(**update)
        except (ClientError, BotoCoreError) as exc:
            raise classify(exc, f"scheduler:UpdateSchedule {self.group}/{self.name}") from exc
