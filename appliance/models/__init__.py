"""Every model of the domain, in dependency order (DESIGN.md §2)."""

from __future__ import annotations

from .archive import ArchiveRecord, ArchiveVerification
from .audit import AuditEntry, LoginEvent, PersonalDataView
from .base import BaseModel, PublishedModel, SyncedModel, database, new_uuid, now
from .comms import (
    Announcement,
    Message,
    MessageAttachment,
    MessageThread,
    Notification,
    ThreadParticipant,
    UserNotice,
)
from .curriculum import (
    CurriculumLine,
    SchoolClass,
    Subject,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
)
from .journal import ATTENDANCE_CODES, Assignment, Attendance, Mark, PeriodMark, Unlock, WorkType
from .membership import Enrollment, RoleGrant
from .people import Guardian, Person, PersonalDataChange, User, UserSession
from .planning import (
    Attachment,
    Lesson,
    LessonTeacherChange,
    Plan,
    PlanLesson,
    TimetableChange,
    TimetableEntry,
)
from .school import AcademicYear, Bell, BellSchedule, NonSchoolDay, Room, School, Term
from .sync import IdMap, Job, OutboxEntry, ScheduleRun, SyncCell, SyncConflict, SyncRun

ALL_MODELS: list[type[BaseModel]] = [
    School,
    AcademicYear,
    Term,
    NonSchoolDay,
    BellSchedule,
    Bell,
    Room,
    Person,
    Subject,
    SchoolClass,
    User,
    UserSession,
    RoleGrant,
    Enrollment,
    Guardian,
    PersonalDataChange,
    CurriculumLine,
    SubjectGroup,
    SubjectGroupTeacher,
    SubjectGroupStudent,
    Plan,
    PlanLesson,
    TimetableEntry,
    TimetableChange,
    Attachment,
    Lesson,
    LessonTeacherChange,
    WorkType,
    Assignment,
    Mark,
    Attendance,
    PeriodMark,
    Unlock,
    MessageThread,
    ThreadParticipant,
    Message,
    MessageAttachment,
    Announcement,
    Notification,
    UserNotice,
    AuditEntry,
    LoginEvent,
    PersonalDataView,
    OutboxEntry,
    IdMap,
    SyncRun,
    SyncConflict,
    SyncCell,
    Job,
    ScheduleRun,
    ArchiveRecord,
    ArchiveVerification,
]

__all__ = [m.__name__ for m in ALL_MODELS] + [
    "ATTENDANCE_CODES",
    "BaseModel",
    "PublishedModel",
    "SyncedModel",
    "database",
    "new_uuid",
    "now",
]
