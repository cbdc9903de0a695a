"""The events a response raises through `HX-Trigger` so other parts of the page refresh
themselves. One spelling, kebab-case: HTML attributes (`hx-on::...`) are case-blind, so a
camelCase event name cannot be listened to everywhere. Templates listen with
`hx-trigger="<name> from:body"`.
"""

# office/_job_techs.html and _job_schedule.html: a status change can disable rescheduling
# and assigning.
JOB_STATUS_CHANGED = "job-status-changed"
# office/_job_timeline.html: any change may have queued a text the timeline should show.
JOB_TIMELINE_CHANGED = "job-timeline-changed"
# office/billing/_billing_progress.html: a document was sent.
BILLING_PROGRESS_CHANGED = "billing-progress-changed"
# office/_inbox_list.html: texts were read or a reply changed the preview.
INBOX_LIST_CHANGED = "inbox-list-changed"
# tech/_messages.html: On My Way / Finished queued a text.
TECH_JOB_CHANGED = "tech-job-changed"
# dev/_thread.html: the phone simulator sent a text.
SIM_REFRESH = "sim-refresh"
