"""The push service: Web Push notifications of new posts to followers' devices.

Two consumer roles in one process: the planner (`herald.live.v1` → shard records on
`herald.push.v1`) and the shard sender (`herald.push.v1` → encrypted pushes, through the
library in `services.push.sender`).
"""
