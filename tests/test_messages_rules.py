"""Who may write to whom (§5.3, §5.4): every restriction, decided by the active role."""

from __future__ import annotations

from appliance.access import ActiveRole
from appliance.db import write
from appliance.messages_rules import (
    allowed_among,
    class_families,
    may_write_to,
    parents_classes,
    recipients_for,
    split_by_family,
)
from appliance.models import (
    Guardian,
    Person,
    SubjectGroup,
    SubjectGroupStudent,
    SubjectGroupTeacher,
    User,
)

PARENT, STUDENT, TEACHER = ActiveRole("parent"), ActiveRole("student"), ActiveRole("teacher")
DIRECTOR, INSPECTOR = ActiveRole("director"), ActiveRole("inspector")


def user(username: str) -> User:
    return User.get(User.username == username)


def class_teacher_role(school) -> ActiveRole:
    return ActiveRole("class_teacher", school.classes["5А"].id)


def teacher_of_5b(school) -> User:
    """Волкова: class teacher of 5Б and its maths teacher."""
    with write():
        person = Person.create(last_name="Волкова", first_name="Нина", is_staff=True)
        b = school.classes["5Б"]
        b.class_teacher = person
        b.save()
        group = SubjectGroup.create(year=school.year, school_class=b, subject=school.group.subject)
        SubjectGroupTeacher.create(group=group, teacher=person)
        for student in school.students["5Б"]:
            SubjectGroupStudent.create(group=group, student=student, starts=school.year.starts)
        return school.account(person, "volkova.nv", ("teacher", None), ("class_teacher", b.id))


def account_for(school, person: Person, username: str, role: str) -> User:
    with write():
        return school.account(person, username, (role, None))


def test_parent_writes_to_class_teacher_childs_teachers_and_the_office(school):
    parent = school.users["parent"]
    for allowed in ("class_teacher", "teacher", "director", "deputy", "admin"):
        assert may_write_to(parent, PARENT, school.users[allowed]), allowed


def test_parent_cannot_write_to_another_parent_or_students(school):
    parent = school.users["parent"]
    for refused in ("other_parent", "other_student", "student", "inspector"):
        assert not may_write_to(parent, PARENT, school.users[refused]), refused


def test_parent_cannot_write_to_the_teacher_of_another_class(school):
    volkova = teacher_of_5b(school)
    assert not may_write_to(school.users["parent"], PARENT, volkova)
    assert may_write_to(school.users["other_parent"], PARENT, volkova)  # her child's teacher


def test_student_writes_to_class_teacher_and_own_teachers_only(school):
    student = school.users["student"]
    assert may_write_to(student, STUDENT, school.users["class_teacher"])
    assert may_write_to(student, STUDENT, school.users["teacher"])
    classmate = account_for(school, school.students["5А"][1], "petrova.a", "student")
    refused = [school.users[r] for r in ("other_student", "director", "parent", "other_parent")]
    for other in [*refused, classmate, teacher_of_5b(school)]:
        assert not may_write_to(student, STUDENT, other), other.username


def test_teacher_writes_to_own_groups_students_their_parents_and_staff(school):
    teacher = school.users["teacher"]
    for allowed in ("student", "parent", "class_teacher", "director", "admin"):
        assert may_write_to(teacher, TEACHER, school.users[allowed]), allowed
    for refused in ("other_student", "other_parent", "inspector"):
        assert not may_write_to(teacher, TEACHER, school.users[refused]), refused


def test_the_active_role_decides_for_a_teacher_who_is_also_class_teacher(school):
    kuznetsov, parent = school.users["class_teacher"], school.users["parent"]
    assert not may_write_to(kuznetsov, TEACHER, parent)  # he teaches no group of 5А
    assert may_write_to(kuznetsov, class_teacher_role(school), parent)
    assert not may_write_to(kuznetsov, class_teacher_role(school), school.users["other_parent"])


def test_office_writes_to_everyone_but_the_inspector_and_closed_accounts(school):
    director = school.users["director"]
    for anyone in ("other_parent", "other_student", "teacher", "deputy"):
        assert may_write_to(director, DIRECTOR, school.users[anyone]), anyone
    assert not may_write_to(director, DIRECTOR, school.users["inspector"])
    with write():
        User.update(is_active=False).where(User.id == school.users["other_parent"].id).execute()
    assert not may_write_to(director, DIRECTOR, school.users["other_parent"])


def test_inspector_and_oneself_are_never_recipients(school):
    inspector, parent = school.users["inspector"], school.users["parent"]
    assert allowed_among(inspector, INSPECTOR, [u.id for u in school.users.values()]) == set()
    assert not may_write_to(parent, PARENT, parent)


def test_parent_choices_are_grouped_class_teacher_teachers_office(school):
    groups = recipients_for(school.users["parent"], PARENT)
    assert [g.label for g in groups] == ["Классный руководитель", "Учителя", "Администрация"]
    names = {g.label: [(c.name, c.note) for c in g.choices] for g in groups}
    assert names["Классный руководитель"] == [("Кузнецов Андрей Павлович", "5А")]
    assert names["Учителя"] == [("Смирнова Елена Викторовна", "Математика")]
    assert [n for n, _ in names["Администрация"]] == [
        "Белова Ольга Сергеевна",
        "Зайцев Игорь Олегович",
        "Орлова Марина Ивановна",
    ]


def test_teacher_choices_list_staff_then_each_class_students_and_parents(school):
    groups = recipients_for(school.users["teacher"], TEACHER)
    labels = [g.label for g in groups]
    assert labels == ["Администрация", "Учителя и сотрудники", "5А — ученики", "5А — родители"]
    by_label = {g.label: g.choices for g in groups}
    assert [c.name for c in by_label["5А — ученики"]] == ["Иванов Пётр"]  # only with accounts
    assert [(c.name, c.note) for c in by_label["5А — родители"]] == [("Иванов Ольга", "Иванов П.")]
    colleagues = [c.name for c in by_label["Учителя и сотрудники"]]
    assert colleagues == ["Кузнецов Андрей Павлович"]  # not herself


def test_office_sees_one_class_at_a_time(school):
    director = school.users["director"]
    assert [g.label for g in recipients_for(director, DIRECTOR)][-1] == "Учителя и сотрудники"
    labels = [g.label for g in recipients_for(director, DIRECTOR, school.classes["5Б"].id)]
    assert labels[-2:] == ["5Б — ученики", "5Б — родители"]


def test_a_message_to_several_families_becomes_one_thread_per_family(school):
    u = school.users
    threads = split_by_family([u["parent"], u["deputy"], u["other_parent"], u["student"]])
    as_names = sorted(sorted(x.username for x in people) for people in threads)
    assert as_names == [
        ["belova.os", "fedorova.o"],
        ["belova.os", "ivanov.p", "ivanova.m"],
    ]
    assert split_by_family([u["deputy"], u["director"]]) == [[u["deputy"], u["director"]]]


def test_a_teacher_who_is_also_a_parent_stays_in_their_own_familys_thread(school):
    """Staff join every family's thread — but not a staff member who is a parent here."""
    u = school.users
    sidorov = school.students["5А"][2]
    with write():
        mother = Person.create(last_name="Сидорова", first_name="Ирина", is_staff=True)
        Guardian.create(parent=mother, student=sidorov, relation="мать")
        colleague = school.account(mother, "sidorova.teacher", ("teacher", None), ("parent", None))
    threads = split_by_family([u["parent"], colleague, u["deputy"]])
    as_names = sorted(sorted(x.username for x in people) for people in threads)
    assert as_names == [
        ["belova.os", "ivanova.m"],
        ["belova.os", "sidorova.teacher"],
    ]


def test_class_families_list_parents_without_an_account(school):
    a = school.classes["5А"]
    families = class_families(school.users["teacher"], TEACHER, a)
    assert [[s.last_name for s in f.students] for f in families] == [
        ["Иванов"],
        ["Петрова"],
        ["Сидоров"],
    ]
    assert [[p.username for p in f.parents] for f in families] == [["ivanova.m"], [], []]
    assert [[p.full_name for p in f.unreachable] for f in families] == [
        [],
        ["Петрова Мария"],
        ["Сидоров Ольга"],
    ]


def test_class_parents_only_for_a_class_one_teaches_or_leads(school):
    a, b = school.classes["5А"], school.classes["5Б"]
    assert class_families(school.users["teacher"], TEACHER, b) is None
    assert class_families(school.users["class_teacher"], TEACHER, a) is None
    assert class_families(school.users["class_teacher"], class_teacher_role(school), a)
    assert class_families(school.users["parent"], PARENT, a) is None
    assert [c.name for c in parents_classes(school.users["director"], DIRECTOR)] == ["5А", "5Б"]


def test_siblings_in_one_class_make_one_family(school):
    with write():
        from appliance.models import Guardian

        Guardian.create(
            parent=school.parents["Иванов"], student=school.students["5А"][1], relation="мать"
        )
    families = class_families(school.users["teacher"], TEACHER, school.classes["5А"])
    first = families[0]
    assert [s.last_name for s in first.students] == ["Иванов", "Петрова"]
    assert [p.username for p in first.parents] == ["ivanova.m"]
    assert len(families) == 2


def test_a_class_teacher_who_also_teaches_the_child_is_listed_once(school):
    with write():
        SubjectGroupTeacher.create(group=school.group, teacher=school.users["class_teacher"].person)
    groups = recipients_for(school.users["parent"], PARENT)
    listed = [c for g in groups for c in g.choices if c.name.startswith("Кузнецов")]
    assert [(c.note) for c in listed] == ["5А, Математика"]
    assert [c.name for c in groups[1].choices] == ["Смирнова Елена Викторовна"]
