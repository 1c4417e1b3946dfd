"""Messages: threads, who may write to whom, attachments, a class's parents at once (issue 5).

The pages only parse and render: the rules are `appliance.messages_rules`, the writes
`appliance.messages_send`, the reading `appliance.messaging`. Threads belong to the
account, whatever role is active; who may be written to depends on the active role.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from .. import access, messages_rules, messages_send, messaging
from ..messages_files import Upload, UploadError, file_on_disk, limit_kb
from ..models import SchoolClass, User
from ..numbers import is_number
from . import settings_of
from .guard import client_ip, requires

bp = Blueprint("messages", __name__, url_prefix="/messages")

REFUSED = (messaging.MessageError, UploadError)


@bp.app_context_processor
def unread_badge():
    """`unread_messages()` for the menu badge (templates/messages/_nav_badge.html)."""

    def unread_messages() -> int:
        user, role = g.get("user"), g.get("role")
        if user is None or role is None or not access.allowed(role.role, "messages", "read"):
            return 0
        return messaging.unread_count(user)

    return {"unread_messages": unread_messages}


def _int_arg(name: str) -> int | None:
    value = request.values.get(name, "").strip()
    return int(value) if is_number(value) and len(value) < 13 else None


def _uploads() -> list[Upload]:
    return [
        Upload(f.filename or "", f.stream) for f in request.files.getlist("files") if f.filename
    ]


def _files_dir():
    return settings_of(current_app).files_dir


@bp.route("/")
@requires("messages", "read")
def index():
    page = messaging.inbox(g.user, _int_arg("page") or 1)
    classes = messages_rules.parents_classes(g.user, g.role)
    return render_template("messages/index.html", page=page, classes=classes)


def _compose_page(selected: set[int], status: int = 200):
    wide = g.role.role in messages_rules.WRITES_TO_EVERYONE
    class_id = _int_arg("class_id") if wide else None
    groups = messages_rules.recipients_for(g.user, g.role, class_id)
    shown = {c.user_id for group in groups for c in group.choices}
    extra = messages_rules.allowed_among(g.user, g.role, selected - shown)
    if extra:  # a preselected person outside the shown lists (another class)
        chosen = User.select().where(User.id.in_(extra))
        choices = [messages_rules.Choice(u.id, u.person.full_name) for u in chosen]
        groups.insert(0, messages_rules.ChoiceGroup("Выбрано", choices))
    return render_template(
        "messages/compose.html",
        groups=groups,
        selected=selected,
        class_picker=messages_rules.parents_classes(g.user, g.role) if wide else [],
        class_id=class_id,
        staff=g.role.role in access.STAFF_ROLES,
        limit_kb=limit_kb(),
        max_files=messages_send.MAX_FILES,
        form=request.form,
    ), status


@bp.route("/new", methods=["GET", "POST"])
@requires("messages", "write")
def compose():
    """Write to people of one's scope (`?to=<user_id>` preselects one)."""
    if request.method == "GET":
        to = _int_arg("to")
        selected = set()
        if to is not None:
            if messages_rules.allowed_among(g.user, g.role, [to]):
                selected = {to}
            else:
                flash("Этому человеку вы написать не можете: выберите адресата из списка.", "info")
        return _compose_page(selected)
    chosen = {int(v) for v in request.form.getlist("to") if is_number(v) and len(v) < 13}
    try:
        threads = messages_send.send(
            g.user,
            g.role,
            chosen,
            request.form.get("subject", ""),
            request.form.get("body", ""),
            _uploads(),
            _files_dir(),
            ip=client_ip(),
        )
    except REFUSED as exc:
        flash(str(exc), "error")
        allowed = messages_rules.allowed_among(g.user, g.role, chosen)
        return _compose_page(allowed, 400)
    if len(threads) == 1:
        flash("Сообщение отправлено.", "success")
        return redirect(url_for("messages.thread", thread_id=threads[0].id))
    flash(f"Сообщение отправлено каждой семье отдельно (переписок: {len(threads)}).", "success")
    return redirect(url_for("messages.index"))


def _thread_or_404(thread_id: int):
    thread = messaging.thread_of(g.user, thread_id)
    if thread is None:  # someone else's thread looks exactly like a missing one
        abort(404)
    return thread


def _thread_page(thread, status: int = 200):
    talk = messaging.conversation(thread)
    return render_template(
        "messages/thread.html",
        talk=talk,
        roles=messages_rules.describe(u.id for u in talk.participants),
        limit_kb=limit_kb(),
        max_files=messages_send.MAX_FILES,
        form=request.form,
    ), status


@bp.route("/<int:thread_id>")
@requires("messages", "read")
def thread(thread_id: int):
    """A thread; opening it marks it read."""
    found = _thread_or_404(thread_id)
    messaging.mark_read(found, g.user, ip=client_ip())
    return _thread_page(found)


@bp.route("/<int:thread_id>/reply", methods=["POST"])
@requires("messages", "write")
def reply(thread_id: int):
    found = _thread_or_404(thread_id)
    try:
        messages_send.answer(
            found,
            g.user,
            request.form.get("body", ""),
            _uploads(),
            _files_dir(),
            ip=client_ip(),
        )
    except REFUSED as exc:
        flash(str(exc), "error")
        return _thread_page(found, 400)
    flash("Ответ отправлен.", "success")
    return redirect(url_for("messages.thread", thread_id=thread_id))


@bp.route("/<int:thread_id>/files/<int:file_id>")
@requires("messages", "read")
def file(thread_id: int, file_id: int):
    """A file of a thread, for its participants only."""
    attachment = messaging.attachment_of(g.user, thread_id, file_id)
    path = file_on_disk(attachment, _files_dir()) if attachment else None
    if path is None:
        abort(404)
    return send_file(
        path,
        mimetype=attachment.content_type,
        as_attachment=True,  # never rendered in the page's origin, whatever it holds
        download_name=attachment.filename,
    )


@bp.route("/class/<int:class_id>", methods=["GET", "POST"])
@requires("messages", "write")
def class_parents(class_id: int):
    """One message to all parents of a class: every family gets its own thread."""
    if g.role.role not in access.STAFF_ROLES:
        flash("Писать всем родителям класса могут учителя и администрация.", "error")
        return redirect(url_for("messages.index"))
    school_class = SchoolClass.get_or_none(SchoolClass.id == class_id)
    families = messages_rules.class_families(g.user, g.role, school_class) if school_class else None
    if families is None:
        abort(404)
    if request.method == "GET":
        return _class_page(school_class, families)
    try:
        sent = messages_send.send_to_class_parents(
            g.user,
            g.role,
            school_class,
            request.form.get("subject", ""),
            request.form.get("body", ""),
            _uploads(),
            _files_dir(),
            ip=client_ip(),
        )
    except messages_send.OutOfScope:
        abort(404)
    except REFUSED as exc:
        flash(str(exc), "error")
        return _class_page(school_class, families, 400)
    flash(
        f"Сообщение отправлено родителям {school_class.name}: семей — {len(sent.threads)}.",
        "success",
    )
    if sent.unreachable:
        flash(
            f"Без учётной записи: семей — {len(sent.unreachable)}. "
            "Им нужно бумажное письмо (раздел «Уведомления родителям»).",
            "info",
        )
    return redirect(url_for("messages.index"))


def _class_page(school_class: SchoolClass, families, status: int = 200):
    return render_template(
        "messages/class_parents.html",
        school_class=school_class,
        families=families,
        reachable=[f for f in families if f.parents],
        unreachable=[f for f in families if not f.parents],
        limit_kb=limit_kb(),
        max_files=messages_send.MAX_FILES,
        form=request.form,
    ), status
