-- Issue 4 (planning the year): where a КТП version came from, and notices on a person's
-- first page (timetable changes, returned КТП).
ALTER TABLE "plan" ADD COLUMN "source" VARCHAR(255) NOT NULL DEFAULT '';
CREATE TABLE "user_notice" ("id" INTEGER NOT NULL PRIMARY KEY, "user_id" INTEGER NOT NULL, "kind" VARCHAR(255) NOT NULL, "text" TEXT NOT NULL, "link" VARCHAR(255) NOT NULL, "created_at" DATETIME NOT NULL, "read_at" DATETIME, FOREIGN KEY ("user_id") REFERENCES "user" ("id") ON DELETE CASCADE);
CREATE INDEX "user_notice_user_id" ON "user_notice" ("user_id");
CREATE INDEX "user_notice_created_at" ON "user_notice" ("created_at");
