"""gunicorn's logger with the same net as Django's logs (clinic.logfilters).

gunicorn writes its access and error logs itself, outside Django's LOGGING. The access
format in gunicorn.conf.py already leaves out query strings and the referer; this filter
masks what a path can still carry: a calendar feed's token, a JWT, an e-mail address or a
phone number. Nothing here imports Django: gunicorn loads it before the application.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from clinic.logfilters import RedactPHIFilter

_REDACT = RedactPHIFilter()


class RedactingLogger(Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        # One filter instance: setup runs again on SIGHUP/USR1 and addFilter ignores a filter it already has.
        for log in (self.error_log, self.access_log):
            log.addFilter(_REDACT)
