-- Fine-tuning jobs run on one of two backends: OpenAI, or kobo's own trainer on this (or a
-- workshop's GPU) machine. A local job costs nothing; its preview estimated the training TIME
-- instead, which /job and the start notice show. Older rows are OpenAI jobs.

ALTER TABLE finetune_jobs ADD COLUMN backend TEXT NOT NULL DEFAULT 'openai'
    CHECK (backend IN ('openai', 'local'));
-- Local jobs: estimated seconds of training on the trainer's machine (NULL for OpenAI jobs);
-- their estimated_cost_usd is 0 and estimated_tokens holds the characters the estimate counted.
ALTER TABLE finetune_jobs ADD COLUMN estimated_seconds REAL;
