"""A client of HuleEdu's public gateway API, used the way a teacher's browser uses it."""

from huleedu_client.client import (
    ApiError,
    EventStreamParser,
    ServerSentEvent,
    TeacherClient,
    UploadFile,
)

__all__ = ["ApiError", "EventStreamParser", "ServerSentEvent", "TeacherClient", "UploadFile"]
