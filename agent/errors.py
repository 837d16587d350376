"""Domain errors, in one place. Only ``signaling`` turns them into HTTP responses.

``retryable`` says whether the same call may succeed later (a busy model, a timeout), as opposed
to a bad input that will fail the same way every time.
"""

from __future__ import annotations


class InterviewerError(Exception):
    """Base of every domain error."""

    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(InterviewerError):
    """The named resume, interview or question does not exist."""


class InvalidInputError(InterviewerError):
    """A request that is well formed but cannot be acted on (bad language, count out of range)."""


class UploadTooLargeError(InterviewerError):
    """The upload, or what it expands to, exceeds a configured limit."""


class UnsupportedFileTypeError(InterviewerError):
    """Not a PDF, DOCX or plain-text file."""


class UnreadableDocumentError(InterviewerError):
    """A document of a supported type that cannot be read: corrupt, encrypted, empty, no text layer."""


class TokenError(InterviewerError):
    """Missing, malformed, forged, expired or wrongly scoped access token."""


class ConflictError(InterviewerError):
    """The request contradicts the resource's state (joining an interview that has ended)."""


class StaleOwnerError(ConflictError):
    """A write from a process that no longer owns the interview's live room (another process took
    it over with a newer fencing token): refused, never retried."""


class FeatureDisabledError(InterviewerError):
    """A feature this deployment turned off in its settings (interviewers listening in on calls):
    refused for everyone, whoever asks, until the setting changes."""


class InvalidSessionDescriptionError(InterviewerError):
    """An SDP offer that cannot be parsed or offers no usable audio."""


class OfflineConfigError(InterviewerError):
    """The environment would let a library reach a cloud service (LIVEKIT_* variables set)."""


class CapacityError(InterviewerError):
    """This server already runs as many live calls as it may; another server or later can take it."""

    retryable = True


class RateLimitedError(InterviewerError):
    """Too many attempts of one kind (sign-in, creating interviews) from one client or in total."""

    retryable = True

    def __init__(self, message: str, *, retry_after_s: int = 60) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class RecordingUnavailableError(InterviewerError):
    """A turn's recording exists but cannot be read now: still being written, or damaged."""

    retryable = True


class ModelUnavailableError(InterviewerError):
    """A model role has no model: names the package or setting that provides one."""


class ModelTimeoutError(InterviewerError):
    """A model call took longer than its timeout."""

    retryable = True


class ModelError(InterviewerError):
    """A model call failed for a reason other than time."""

    retryable = True
