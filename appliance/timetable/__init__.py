"""The timetable (§7.5): what it offers, module by module.

- `entries`: a year's entries as plain rows (`load_entries`), weekdays, bells, dates.
- `conflicts`: THE conflict check (`year_conflicts`, `find_conflicts`): a teacher,
  room or class twice at once; parallel subgroups allowed unless they share a student.
- `checks`: weekly hours against the curriculum; the «checked» mark of a year.
- `editing`: add, change and remove entries with validity dates.
- `changes`: one-off changes (substitution, move, cancellation, room) applied to
  lessons, listed and undone; `occupancy` says who uses a slot on a day, `notices`
  tells the teachers, students and parents concerned.
- `grid`: the grid of a class, a teacher or a room for a day's week.
- `xlsx`: export and import of one flat sheet.
- `scope`: whose timetable each role sees.
- `rooms`: the list of rooms.
"""
