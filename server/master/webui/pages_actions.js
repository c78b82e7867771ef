// What the buttons with `data-action` do (app.js dispatches the clicks):
// each names what it acts on, asks first, then calls the master or the
// agent.

import { esc, fmtInt, agentAddress } from './util.js';
import { runAction } from './dialog.js';
import { masterCall, agentCall } from './api.js';
import { containerId } from './model.js';
import { shortId } from './pages_common.js';

async function refreshAgents(ctx) {
  const answer = await masterCall({ type: 'GET_AGENTS' });
  ctx.model.refreshAgents(answer && answer.get_agents);
}

/** An agent as a dialog names it: its hostname and its ID, as two agents
 * may run on one host. Unless `whole`, the ID's end (all of it on hover). */
function agentHtml(ctx, id, whole = false) {
  const host = ctx.model.hostname(id);
  const idSpan = `<span class="mono" title="${esc(id)}">${esc(host && !whole ? shortId(id) : id)}</span>`;
  return host ? `<strong>${esc(host)}</strong> (${idSpan})` : idSpan;
}

/** The same as text, for the notice that tells how it went. */
function agentText(ctx, id) {
  const host = ctx.model.hostname(id);
  return host ? `${host} (${shortId(id)})` : id;
}

export const ACTIONS = {
  'kill-task'(ctx, data) {
    const task = ctx.model.tasks.get(data.key);
    if (!task) return;
    const id = task.task_id.value;
    const framework = ctx.model.frameworkName(task.framework_id.value) || task.framework_id.value;
    runAction({
      title: 'Kill task',
      body: `<p>Kill task <strong class="mono">${esc(id)}</strong> of framework ${esc(framework)} on agent ${agentHtml(ctx, task.agent_id.value)}?</p><p>Its agent stops the task's container; the task ends <code>TASK_KILLED</code> and its framework is told so.</p>`,
      confirmLabel: 'Kill task',
      success: `Kill sent for task ${id}: it ends TASK_KILLED once its agent has stopped it.`,
      async action() {
        const agent = ctx.model.agents.get(task.agent_id.value);
        if (!agent) throw new Error('its agent is not registered with the master');
        const container = containerId(task);
        if (!container) throw new Error('the task has no container yet (it is still being launched)');
        await agentCall(agentAddress(agent), { type: 'KILL_CONTAINER', kill_container: { container_id: container } });
      },
    });
  },
  teardown(ctx, data) {
    const name = ctx.model.frameworkName(data.id) || data.id;
    const live = ctx.model.frameworkLive.get(data.id) || 0;
    runAction({
      title: 'Tear down framework',
      body: `<p>Tear down framework <strong>${esc(name)}</strong> (<span class="mono">${esc(data.id)}</span>)?</p><p>Its ${fmtInt(live)} live task${live === 1 ? '' : 's'} are killed and it cannot subscribe again with this ID.</p>`,
      confirmLabel: 'Tear down',
      success: `Framework ${name} was torn down.`,
      action: () => masterCall({ type: 'TEARDOWN', teardown: { framework_id: { value: data.id } } }),
    });
  },
  deactivate(ctx, data) {
    runAction({
      title: 'Deactivate agent',
      body: `<p>Deactivate agent ${agentHtml(ctx, data.id)}?</p><p>Its resources are no longer offered; what runs there keeps running.</p>`,
      confirmLabel: 'Deactivate',
      success: `Agent ${agentText(ctx, data.id)} was deactivated.`,
      async action() {
        await masterCall({ type: 'DEACTIVATE_AGENT', deactivate_agent: { agent_id: { value: data.id } } });
        await refreshAgents(ctx);
      },
    });
  },
  reactivate(ctx, data) {
    runAction({
      title: 'Reactivate agent',
      body: `<p>Reactivate agent ${agentHtml(ctx, data.id)}? Its resources are offered again.</p>`,
      confirmLabel: 'Reactivate',
      success: `Agent ${agentText(ctx, data.id)} was reactivated.`,
      async action() {
        await masterCall({ type: 'REACTIVATE_AGENT', reactivate_agent: { agent_id: { value: data.id } } });
        await refreshAgents(ctx);
      },
    });
  },
  'mark-gone'(ctx, data) {
    runAction({
      title: 'Mark agent gone',
      body: `<p>Mark agent ${agentHtml(ctx, data.id, true)} as gone for good?</p><p>Its tasks are reported <code>TASK_GONE_BY_OPERATOR</code> and the agent may never register again with this ID. Do this only when the machine is gone.</p>`,
      confirmLabel: 'Mark gone',
      success: `Agent ${agentText(ctx, data.id)} was marked gone.`,
      async action() {
        await masterCall({ type: 'MARK_AGENT_GONE', mark_agent_gone: { agent_id: { value: data.id } } });
        await refreshAgents(ctx);
      },
    });
  },
};
