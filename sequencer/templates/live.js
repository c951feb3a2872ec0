// Live updates of the explorer's home page: new blocks and batch changes from the live feed
// (/v1/ws). The page works without it; this only saves reloading.
(() => {
  const blocks = document.getElementById("blocks");
  const batches = document.getElementById("batches");
  const live = document.getElementById("live");
  const text = (id, value) => { const el = document.getElementById(id); if (el) el.textContent = value; };
  const cell = (row, content, mono) => {
    const td = row.insertCell();
    if (mono) td.className = "mono";
    if (content instanceof Node) td.appendChild(content); else td.textContent = content;
  };
  const link = (href, label) => { const a = document.createElement("a"); a.href = href; a.textContent = label; return a; };
  const connect = () => {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`);
    ws.onopen = () => { live.textContent = "Live: new blocks appear as they are stored."; };
    ws.onclose = () => { live.textContent = "Live updates paused; reconnecting."; setTimeout(connect, 2000); };
    ws.onmessage = (event) => {
      const m = JSON.parse(event.data);
      if (m.type === "block") {
        text("h-executed", m.number);
        const row = blocks.insertRow(0);
        row.dataset.number = m.number;
        cell(row, link(`/explorer/block/${m.number}`, String(m.number)));
        cell(row, m.hash, true);
        cell(row, String(m.txCount));
        cell(row, new Date(m.timestamp * 1000).toISOString().replace("T", " ").slice(0, 19));
        while (blocks.rows.length > 20) blocks.deleteRow(-1);
      } else if (m.type === "batch") {
        if (m.status !== "sealed") text(`h-${m.status}`, m.toBlock);
        let row = document.getElementById(`batch-${m.index}`);
        if (!row) {
          row = batches.insertRow(0);
          row.id = `batch-${m.index}`;
          cell(row, link(`/explorer/batch/${m.index}`, String(m.index)));
          cell(row, m.status);
          cell(row, `${m.fromBlock}–${m.toBlock}`);
          cell(row, String(m.daBytes));
          while (batches.rows.length > 10) batches.deleteRow(-1);
        } else {
          row.cells[1].textContent = m.status;
        }
      }
    };
  };
  connect();
})();
