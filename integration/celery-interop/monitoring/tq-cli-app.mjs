// The task module of a `tq worker` process started by remote-control.test.ts (broker and
// results from the command line).
import { createApp } from '@tq/core';

const app = createApp();
app.task('mon.add', (a, b) => a + b);
app.task('mon.sleep', (ms) => new Promise((resolve) => setTimeout(() => resolve(ms), ms)));

export default app;
