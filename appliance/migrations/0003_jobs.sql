-- Background jobs run by `ezh worker` (appliance.jobs) and the periodic schedule.
CREATE TABLE "job" ("id" INTEGER NOT NULL PRIMARY KEY, "kind" VARCHAR(255) NOT NULL, "params" TEXT NOT NULL, "state" VARCHAR(255) NOT NULL, "progress" INTEGER NOT NULL, "total" INTEGER NOT NULL, "message" TEXT NOT NULL, "result_file" VARCHAR(255) NOT NULL, "created_by_id" INTEGER, "created_at" DATETIME NOT NULL, "started_at" DATETIME, "finished_at" DATETIME, "attempts" INTEGER NOT NULL, FOREIGN KEY ("created_by_id") REFERENCES "user" ("id") ON DELETE SET NULL);
CREATE INDEX "job_kind" ON "job" ("kind");
CREATE INDEX "job_state" ON "job" ("state");
CREATE INDEX "job_created_by_id" ON "job" ("created_by_id");
CREATE TABLE "schedule_run" ("id" INTEGER NOT NULL PRIMARY KEY, "name" VARCHAR(255) NOT NULL, "last_run_at" DATETIME NOT NULL);
CREATE UNIQUE INDEX "schedule_run_name" ON "schedule_run" ("name");
