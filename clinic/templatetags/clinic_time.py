"""Template filters for times on staff pages; the rules are in ``clinic.localtime``.

{% load clinic_time %}
{{ session.starts_at|when:session.series.program.time_zone }}   Dec. 7, 2026, 6 p.m. PST
{{ session.starts_at|hour:session.series.program.time_zone }}   6 p.m. PST
{{ reminder.due_at|when }}                                      in the user's zone
{{ stay.planned_end_on|day }}                                   Dec. 9, 2026
"""

from django import template

from clinic import localtime

register = template.Library()


@register.filter
def when(value, zone=None):
    return localtime.when(value, zone or None)


@register.filter
def hour(value, zone=None):
    return localtime.when(value, zone or None, with_date=False)


@register.filter
def day(value, zone=None):
    return localtime.day(value, zone or None)
