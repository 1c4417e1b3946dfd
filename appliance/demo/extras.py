"""The demo's loose ends: personal-data changes (the 3-day rule) and announcements."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from ..models import Announcement, PersonalDataChange

if TYPE_CHECKING:
    from .build import _Builder


def write_extras(builder: _Builder) -> dict[str, int]:
    """Three personal-data changes (entered, overdue, pending) and two announcements."""
    today = builder.today
    users = {a.role: a.user_id for a in reversed(builder.account_plans)}  # the first of each role
    roster = builder.roster
    student = next(s for s in roster.students if builder.classes[s.class_index].grade == 5)
    mother = next(p for p in roster.parents if p.relation == "мать" and len(p.children) == 1)
    father = next(p for p in roster.parents if p.relation == "отец")

    notified = today - dt.timedelta(days=20)
    PersonalDataChange.create(
        person=student.id,
        field="address",
        old_value="445240, Самарская обл., г. Октябрьск, ул. Мира, д. 7, кв. 15",
        new_value=student.address,
        notified_on=notified,
        entered_at=dt.datetime.combine(notified + dt.timedelta(days=1), dt.time(10, 20)),
        entered_by=users["admin"],
        note="Заявление родителя о смене места жительства",
        created_at=dt.datetime.combine(notified, dt.time(15, 5)),
    )
    overdue = today - dt.timedelta(days=6)
    PersonalDataChange.create(
        person=father.id,
        field="phone",
        old_value=father.phone,
        new_value="+7 927 604-18-33",
        notified_on=overdue,
        note="Сообщил классному руководителю по телефону",
        created_at=dt.datetime.combine(overdue, dt.time(13, 40)),
    )
    pending = today - dt.timedelta(days=1)
    new_surname = "Кузнецова" if mother.name.last_name != "Кузнецова" else "Соколова"
    PersonalDataChange.create(
        person=mother.id,
        field="last_name",
        old_value=mother.name.last_name,
        new_value=new_surname,
        notified_on=pending,
        note="Смена фамилии в связи с заключением брака, копия свидетельства в личном деле",
        created_at=dt.datetime.combine(pending, dt.time(9, 30)),
    )

    quarter = next(
        (t for t in builder.terms if t.kind == "quarter" and t.ends >= today),
        builder.terms[-2],
    )
    Announcement.create(
        author=users["director"],
        title="Родительские собрания",
        body=(
            "Уважаемые родители! Классные родительские собрания пройдут в четверг "
            "в 18:00 в кабинетах классных руководителей. В повестке: итоги четверти, "
            "организация питания, безопасность детей на дорогах."
        ),
        audience="parents",
        publish_on=today - dt.timedelta(days=4),
        expires_on=today + dt.timedelta(days=14),
    )
    Announcement.create(
        author=users["deputy"],
        title=f"Отметки за {quarter.name}",
        body=(
            f"Уважаемые коллеги! Отметки за {quarter.name} выставляются в электронном "
            f"журнале до {quarter.mark_deadline:%d.%m.%Y} включительно. После этого срока "
            "изменение возможно только по согласованию с заместителем директора по УВР. "
            "Проверьте, пожалуйста, заполнение тем уроков и домашних заданий."
        ),
        audience="staff",
        publish_on=today - dt.timedelta(days=2),
        expires_on=quarter.mark_deadline,
    )
    return {"personal_data_changes": 3, "announcements": 2}
