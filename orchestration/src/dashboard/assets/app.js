// bankpipe dashboard: the run page, live. While its run is going, every second it asks
// the JSON API for the run and its tasks and for the log lines after the last one
// shown, and redraws the timeline (SVG drawn by the server); it stops once the run
// has ended. No page reloads; every other page is plain HTML.
'use strict';
(() => {
  const root = document.querySelector('[data-live-run]');
  if (!root || root.dataset.active !== 'true') return;
  const id = root.dataset.liveRun;
  let after = Number(root.dataset.lastLog || '0');
  const live = document.getElementById('live');

  // The same formats as the server's (html.rs).
  const when = (iso) => (iso ? iso.slice(0, 19).replace('T', ' ') : '—');
  const count = (n) => (n == null ? '—' : String(n).replace(/\B(?=(\d{3})+(?!\d))/g, '\u202f'));
  const duration = (s) => {
    if (s == null) return '—';
    if (s < 10) return s.toFixed(2) + ' s';
    if (s < 60) return s.toFixed(1) + ' s';
    const w = Math.floor(s);
    const two = (n) => String(n).padStart(2, '0');
    if (w < 3600) return `${Math.floor(w / 60)} min ${two(w % 60)} s`;
    return `${Math.floor(w / 3600)} h ${two(Math.floor((w % 3600) / 60))} min`;
  };
  const badge = (element, state) => {
    if (!element) return;
    element.textContent = state;
    element.className = 'state s-' + state;
  };
  const text = (scope, selector, value) => {
    const element = scope.querySelector(selector);
    if (element) element.textContent = value;
  };

  const showRun = (run) => {
    badge(document.getElementById('run-state'), run.state);
    text(document, '#run-started', when(run.started_at));
    text(document, '#run-ended', when(run.ended_at));
    text(document, '#run-duration', duration(run.duration_seconds));
    text(document, '#run-error', run.error || '');
  };

  const showTasks = (tasks) => {
    for (const task of tasks) {
      const row = document.querySelector(`tr[data-task-run="${task.id}"]`);
      if (!row) continue;
      badge(row.querySelector('.t-state span'), task.state);
      text(row, '.t-attempts', String(task.attempts));
      text(row, '.t-rows-in', count(task.rows_in));
      text(row, '.t-rows-out', count(task.rows_out));
      text(row, '.t-duration', duration(task.duration_seconds));
      const said = row.querySelector('.t-said');
      if (said) {
        said.textContent = task.error || task.note || '';
        said.className = 't-said ' + (task.error ? 'error' : 'muted');
      }
    }
  };

  const showLogs = (lines) => {
    for (const line of lines) {
      const pre = document.querySelector(`pre[data-logs="${line.task_run_id ?? 'run'}"]`);
      if (pre) {
        const span = document.createElement('span');
        span.className = 'l-' + line.level;
        const time = document.createElement('time');
        time.textContent = line.at.slice(11, 23);
        const level = document.createElement('b');
        level.textContent = line.level;
        span.append(time, ' ', level, ' ' + line.message + '\n');
        pre.append(span);
        pre.scrollTop = pre.scrollHeight;
      }
      after = line.id;
    }
  };

  const json = async (url) => {
    const response = await fetch(url, { headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(`${url}: ${response.status}`);
    return response.json();
  };

  const tick = async () => {
    try {
      const detail = await json(`/api/runs/${id}`);
      const logs = await json(`/api/runs/${id}/logs?after=${after}`);
      showRun(detail.run);
      showTasks(detail.tasks);
      showLogs(logs.logs);
      const timeline = await fetch(`/runs/${id}/timeline.svg`);
      if (timeline.ok) document.getElementById('timeline').innerHTML = await timeline.text();
      if (!detail.run.active) {
        root.dataset.active = 'false';
        live.textContent = '';
        return;
      }
      live.textContent = '● live';
    } catch (error) {
      live.textContent = 'reconnecting…';
    }
    setTimeout(tick, 1000);
  };
  live.textContent = '● live';
  setTimeout(tick, 1000);
})();
