-- Sync with АСУ РСО: the merge base of journal cells, and conflicts a teacher can find.
ALTER TABLE "sync_conflict" ADD COLUMN "group_id" INTEGER;
ALTER TABLE "sync_conflict" ADD COLUMN "description" TEXT NOT NULL DEFAULT '';
ALTER TABLE "sync_conflict" ADD COLUMN "cell" TEXT NOT NULL DEFAULT '{}';
CREATE INDEX "sync_conflict_group_id" ON "sync_conflict" ("group_id");
CREATE TABLE "sync_cell" ("id" INTEGER NOT NULL PRIMARY KEY, "entity_type" VARCHAR(255) NOT NULL, "entity_uuid" VARCHAR(255) NOT NULL, "value" TEXT NOT NULL, "synced_at" DATETIME NOT NULL);
CREATE UNIQUE INDEX "sync_cell_entity_uuid" ON "sync_cell" ("entity_uuid");
