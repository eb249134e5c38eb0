"""gunicorn's settings for every deployment (Dockerfile, docker-compose.yml, Procfile).

gunicorn reads ./gunicorn.conf.py from its working directory; the commands also name it.
The access log is on where the command asks for it (``--access-logfile -``); its format is
the one thing that matters here: the path without its query string (%(U)s, never %(r)s or
%(q)s, which carry searches such as a surname), no referer (another page's URL), and the
request id to find the request's audit rows. The logger class masks what a path may still
hold (a calendar feed's token, a JWT, an e-mail address, a phone number).
"""

access_log_format = '%(h)s [%({x-request-id}o)s] %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
logger_class = "clinic.gunicorn_logging.RedactingLogger"
