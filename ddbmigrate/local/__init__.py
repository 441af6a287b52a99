"""The local stack: two DynamoDB Local processes (two accounts) and a moto S3/STS server.

Kept apart from the migration logic (as aws-sam-cli keeps ``local/``): nothing in the library
needs it except through an AWS config file, exactly as against real AWS.
"""

from __future__ import annotations

from ddbmigrate.local.stack import PROFILES, Stack, StackService, stack_down, stack_status, stack_up

__all__ = ["PROFILES", "Stack", "StackService", "stack_down", "stack_status", "stack_up"]
