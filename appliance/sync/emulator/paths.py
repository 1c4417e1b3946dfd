"""Every path the emulator serves, in one table, so the adapter's configurable paths match.

Keys are the adapter's names for an operation; values are (method, path). Paths under
`/webapi` follow the public reference; those marked "assumption" in `app.py` are the
emulator's own choice where the reference gives no shape.
"""

from __future__ import annotations

PATHS: dict[str, tuple[str, str]] = {
    # session
    "logindata": ("GET", "/webapi/logindata"),
    "schools_search": ("GET", "/webapi/schools/search"),
    "prepareloginform": ("GET", "/webapi/prepareloginform"),
    "getdata": ("POST", "/webapi/auth/getdata"),
    "login": ("POST", "/webapi/login"),
    "logout": ("POST", "/webapi/auth/logout"),
    "context": ("GET", "/webapi/context"),
    # reads
    "year_current": ("GET", "/webapi/years/current"),
    "assignment_types": ("GET", "/webapi/grade/assignment/types"),
    "diary_init": ("GET", "/webapi/student/diary/init"),
    "diary": ("GET", "/webapi/student/diary"),
    "classes": ("GET", "/webapi/classes"),
    "subjectgroups": ("GET", "/webapi/subjectgroups"),
    "classmeetings": ("GET", "/webapi/schedule/classmeetings"),
    "journal": ("GET", "/webapi/grade/journal"),
    "student_list": ("GET", "/webapi/grade/studentList"),
    "attendance_reasons": ("GET", "/webapi/grade/attendance/reasons"),
    "terms": ("GET", "/webapi/grade/terms"),  # assumption
    "staff": ("GET", "/webapi/users/staff"),  # assumption
    # writes and their read-backs
    "quickedit": ("POST", "/webapi/grade/journal/quickedit"),
    "lesson_read": ("GET", "/webapi/grade/journal/edit"),
    "lesson_edit": ("POST", "/webapi/grade/journal/edit"),  # body shape: assumption
    "periodmarks_read": ("GET", "/webapi/grade/periodmarks"),  # assumption
    "periodmarks_write": ("POST", "/webapi/grade/periodmarks"),  # assumption
    # test control (not NetSchool)
    "control_faults": ("POST", "/_emulator/faults"),
    "control_state": ("GET", "/_emulator/state"),
    "control_terms": ("POST", "/_emulator/terms"),
    "control_expire": ("POST", "/_emulator/expire"),
}
