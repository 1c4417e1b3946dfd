-- The year-end archive (§9.2): the register learns what was written to the medium,
-- and every later verification of a unit is kept.
ALTER TABLE "archive_record" ADD COLUMN "sha512" VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE "archive_record" ADD COLUMN "size" INTEGER NOT NULL DEFAULT 0;
ALTER TABLE "archive_record" ADD COLUMN "file_name" VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE "archive_record" ADD COLUMN "parts" INTEGER NOT NULL DEFAULT 1;
ALTER TABLE "archive_record" ADD COLUMN "status" VARCHAR(255) NOT NULL DEFAULT 'written';
CREATE TABLE "archive_verification" ("id" INTEGER NOT NULL PRIMARY KEY, "record_id" INTEGER NOT NULL, "checked_at" DATETIME NOT NULL, "with_key" INTEGER NOT NULL, "ok" INTEGER NOT NULL, "message" TEXT NOT NULL, "media_label" VARCHAR(255) NOT NULL, "user_id" INTEGER, FOREIGN KEY ("record_id") REFERENCES "archive_record" ("id") ON DELETE CASCADE, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE SET NULL);
CREATE INDEX "archive_verification_record_id" ON "archive_verification" ("record_id");
CREATE INDEX "archive_verification_user_id" ON "archive_verification" ("user_id");
