"""The patient app's accounts: the API client, the clinic world and the fake providers of the other suites."""

from tests.api.conftest import _fresh_throttles, api, patient_user, world  # noqa: F401 - fixtures
from tests.reminders.conftest import _fresh_channels, smtp, twilio  # noqa: F401 - fixtures
