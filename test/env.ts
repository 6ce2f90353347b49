// Where the test services are: the environment, or the ports scripts/services.sh uses.
export const REDIS_URL = process.env.REDIS_URL ?? `redis://127.0.0.1:${process.env.SS_REDIS_PORT ?? 6390}`;
export const MONGODB_URI = process.env.MONGODB_URI ?? `mongodb://127.0.0.1:${process.env.SS_MONGO_PORT ?? 27027}`;
