CREATE TABLE `settings` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `sync_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`trigger` text NOT NULL,
	`scope` text NOT NULL,
	`status` text NOT NULL,
	`dry_run` integer DEFAULT false NOT NULL,
	`force` integer DEFAULT false NOT NULL,
	`started_at` integer NOT NULL,
	`finished_at` integer,
	`duration_ms` integer,
	`types` text,
	`reason` text,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `sync_runs_started_at` ON `sync_runs` (`started_at`);--> statement-breakpoint
CREATE INDEX `sync_runs_status` ON `sync_runs` (`status`);