// A task module: export the app; register tasks by name.
// Run a worker:   npx tq worker --app ./tasks.js
// Send a task:    npx tq call tq.add --args '[2, 3]' --wait
import { createApp } from '@tq/core';

// Broker and result backend come from tq.config.json, TQ_BROKER_URL / TQ_RESULT_BACKEND or the
// tq flags; the default is memory://, served by `tq worker` to other tq commands on this machine.
const app = createApp();

app.task('tq.add', (a, b) => a + b);

app.task('reports.build', async function (name, pages = 5) {
  for (let page = 1; page <= pages; page++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    await this.updateState('PROGRESS', { current: page, total: pages });
  }
  return { report: name, pages };
});

export default app;
