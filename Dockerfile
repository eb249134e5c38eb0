FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The patient's language (issue 13): compile the gettext catalogues, then drop the tools.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends gettext > /dev/null \
    && DEBUG=1 python manage.py compilemessages --ignore=.venv -v0 \
    && apt-get purge -y -qq gettext > /dev/null && rm -rf /var/lib/apt/lists/*
RUN useradd --create-home clinic && mkdir -p var && chown clinic var
USER clinic
CMD ["gunicorn", "clinic.wsgi:application", "--config", "gunicorn.conf.py", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
