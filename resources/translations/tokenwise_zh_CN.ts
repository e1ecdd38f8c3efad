<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name></name>
    <message>
        <source>no model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <source>No model is loaded.</source>
        <translation>尚未加载模型。</translation>
    </message>
    <message>
        <source>{backend}, {offloaded} of {layers} layers offloaded</source>
        <translation>{backend}，已卸载 {layers} 层中的 {offloaded} 层</translation>
    </message>
    <message>
        <source>not stated in the file; see its model card</source>
        <translation>文件中未注明；请查看其模型卡</translation>
    </message>
    <message>
        <source>Model: {name}, licence: {licence}</source>
        <translation>模型：{name}，许可证：{licence}</translation>
    </message>
    <message>
        <source>See how a local language model writes, one token at a time.</source>
        <translation>看本地语言模型如何一个词元一个词元地写作。</translation>
    </message>
    <message>
        <source>llama.cpp through llama-cpp-python {version} · backend: {backend}</source>
        <translation>通过 llama-cpp-python {version} 使用 llama.cpp · 后端：{backend}</translation>
    </message>
    <message>
        <source>Tokenwise is licensed under Apache-2.0. PySide6 and Qt are used under the LGPL-3.0. The licences of every part follow.</source>
        <translation>Tokenwise 以 Apache-2.0 许可证发布。PySide6 与 Qt 依 LGPL-3.0 使用。以下是各组成部分的许可证。</translation>
    </message>
    <message>
        <source>normal</source>
        <translation>普通</translation>
    </message>
    <message>
        <source>special</source>
        <translation>特殊</translation>
    </message>
    <message>
        <source>byte</source>
        <translation>字节</translation>
    </message>
    <message>
        <source>bytes {hex}</source>
        <translation>字节 {hex}</translation>
    </message>
    <message>
        <source>part of {character}</source>
        <translation>属于 {character} 的一部分</translation>
    </message>
    <message>
        <source>Export failed</source>
        <translation>导出失败</translation>
    </message>
    <message>
        <source>The file could not be written: {error}</source>
        <translation>无法写入文件：{error}</translation>
    </message>
    <message>
        <source>Export the reply&apos;s trace</source>
        <translation>导出回复的轨迹</translation>
    </message>
    <message>
        <source>Save the candidates view</source>
        <translation>保存候选视图</translation>
    </message>
    <message>
        <source>PNG image (*.png)</source>
        <translation>PNG 图像 (*.png)</translation>
    </message>
    <message>
        <source>(rank {rank})</source>
        <translation>（排名 {rank}）</translation>
    </message>
    <message>
        <source> · forced by a branch</source>
        <translation> · 由分支强制选定</translation>
    </message>
    <message>
        <source>top candidates:</source>
        <translation>最高候选：</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <source>Divides the logits before the draw: below 1 sharpens the distribution towards the top token, above 1 flattens it; 0 is greedy.</source>
        <translation>抽取前用它去除 logit：小于 1 使分布向最高词元集中，大于 1 使分布更平坦；0 即贪心解码。</translation>
    </message>
    <message>
        <source>0 (greedy)</source>
        <translation>0（贪心）</translation>
    </message>
    <message>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <source>Keeps only the k most probable tokens and renormalises over them; 0 turns it off.</source>
        <translation>只保留概率最高的 k 个词元并在其中重新归一化；0 表示关闭。</translation>
    </message>
    <message>
        <source>off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <source>Keeps the smallest set of top tokens whose probabilities add up to p (nucleus sampling); 1 turns it off.</source>
        <translation>保留概率之和达到 p 的最小一组最高词元（核采样）；1 表示关闭。</translation>
    </message>
    <message>
        <source>Min-p</source>
        <translation>Min-p</translation>
    </message>
    <message>
        <source>Drops tokens less probable than min-p times the top token&apos;s probability; 0 turns it off.</source>
        <translation>舍弃概率低于“min-p × 最高词元概率”的词元；0 表示关闭。</translation>
    </message>
    <message>
        <source>Repeat penalty</source>
        <translation>重复惩罚</translation>
    </message>
    <message>
        <source>Makes tokens seen in the recent window less likely (logit divided by it); 1 turns it off.</source>
        <translation>降低近期窗口中出现过的词元的概率（logit 除以该值）；1 表示关闭。</translation>
    </message>
    <message>
        <source>Penalty window</source>
        <translation>惩罚窗口</translation>
    </message>
    <message>
        <source>How many recent tokens the penalties look back on; -1 means the whole context, 0 turns the penalties off.</source>
        <translation>惩罚回看的最近词元数；-1 表示整个上下文，0 表示关闭惩罚。</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>Presence penalty</source>
        <translation>存在惩罚</translation>
    </message>
    <message>
        <source>Subtracts this from the logit of every token already present in the window, once.</source>
        <translation>窗口中已出现的每个词元的 logit 减去该值（只减一次）。</translation>
    </message>
    <message>
        <source>Frequency penalty</source>
        <translation>频率惩罚</translation>
    </message>
    <message>
        <source>Subtracts this times the token&apos;s count in the window, so frequent tokens fall further.</source>
        <translation>按词元在窗口中出现的次数乘以该值扣减，出现越多降得越多。</translation>
    </message>
    <message>
        <source>Max tokens</source>
        <translation>最大词元数</translation>
    </message>
    <message>
        <source>Stops the reply after this many tokens.</source>
        <translation>回复达到这么多词元后停止。</translation>
    </message>
    <message>
        <source>Unexpected error: {error}</source>
        <translation>意外错误：{error}</translation>
    </message>
    <message>
        <source>{repo}: {count} downloads</source>
        <translation>{repo}：下载 {count} 次</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>  (unusable)</source>
        <translation>  （无法使用）</translation>
    </message>
    <message>
        <source>The model&apos;s name</source>
        <translation>模型名称</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Size on disk</source>
        <translation>占用磁盘</translation>
    </message>
    <message>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <source>How the weights are stored</source>
        <translation>权重的存储方式</translation>
    </message>
    <message>
        <source>Context</source>
        <translation>上下文</translation>
    </message>
    <message>
        <source>Longest context the model was trained for, in tokens</source>
        <translation>模型训练时的最长上下文（词元）</translation>
    </message>
    <message>
        <source>License</source>
        <translation>许可证</translation>
    </message>
    <message>
        <source>The license the model&apos;s file declares</source>
        <translation>模型文件声明的许可证</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>来源</translation>
    </message>
    <message>
        <source>bundled with Tokenwise, downloaded, or imported</source>
        <translation>随 Tokenwise 附带、下载或导入</translation>
    </message>
    <message>
        <source>Location</source>
        <translation>位置</translation>
    </message>
    <message>
        <source>Where the file is</source>
        <translation>文件所在位置</translation>
    </message>
    <message>
        <source>bundled</source>
        <extracomment>where an installed model came from, as shown</extracomment>
        <translation>内置</translation>
    </message>
    <message>
        <source>downloaded</source>
        <translation>已下载</translation>
    </message>
    <message>
        <source>imported</source>
        <translation>已导入</translation>
    </message>
    <message>
        <source>A curated instruct model</source>
        <translation>精选的指令模型</translation>
    </message>
    <message>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <source>Number of weights</source>
        <translation>权重数量</translation>
    </message>
    <message>
        <source>Download size (~ where approximate)</source>
        <translation>下载大小（~ 表示约数）</translation>
    </message>
    <message>
        <source>Trained context length in tokens</source>
        <translation>训练上下文长度（词元）</translation>
    </message>
    <message>
        <source>The model&apos;s license</source>
        <translation>模型的许可证</translation>
    </message>
    <message>
        <source>About</source>
        <translation>简介</translation>
    </message>
    <message>
        <source>What the model is good for</source>
        <translation>模型擅长什么</translation>
    </message>
    <message>
        <source>Repository</source>
        <translation>仓库</translation>
    </message>
    <message>
        <source>owner/name on the hub</source>
        <translation>Hub 上的 所有者/名称</translation>
    </message>
    <message>
        <source>Downloads</source>
        <translation>下载</translation>
    </message>
    <message>
        <source>Downloads in the last month</source>
        <translation>最近一个月的下载次数</translation>
    </message>
    <message>
        <source>Likes</source>
        <translation>点赞</translation>
    </message>
    <message>
        <source>Likes on the hub</source>
        <translation>Hub 上的点赞数</translation>
    </message>
    <message>
        <source>Access</source>
        <translation>访问</translation>
    </message>
    <message>
        <source>gated: accept the license first</source>
        <translation>受限：需先接受许可证</translation>
    </message>
    <message>
        <source>open</source>
        <translation>公开</translation>
    </message>
    <message>
        <source>Gated models need an access token and an accepted license</source>
        <translation>受限模型需要访问令牌并接受许可证</translation>
    </message>
    <message>
        <source>Model file</source>
        <translation>模型文件</translation>
    </message>
    <message>
        <source>A GGUF file, or a model split into parts</source>
        <translation>GGUF 文件，或拆分成多个部分的模型</translation>
    </message>
    <message>
        <source>From the file name</source>
        <translation>取自文件名</translation>
    </message>
    <message>
        <source>Download size</source>
        <translation>下载大小</translation>
    </message>
</context>
<context>
    <name>AboutDialog</name>
    <message>
        <source>unknown</source>
        <translation>未知</translation>
    </message>
    <message>
        <source>About Tokenwise</source>
        <translation>关于 Tokenwise</translation>
    </message>
    <message>
        <source>The licences of Tokenwise and of every part it runs with</source>
        <translation>Tokenwise 及其运行所用各组成部分的许可证</translation>
    </message>
    <message>
        <source>Licences</source>
        <translation>许可证</translation>
    </message>
    <message>
        <source>Close (Esc)</source>
        <translation>关闭（Esc）</translation>
    </message>
</context>
<context>
    <name>BeamTree</name>
    <message>
        <source>A beam search has no sampler stages: each step reads the model&apos;s raw distribution for every live beam and keeps the W extensions with the highest total log-probability. Blue: kept, grey: pruned, green: ended (a finished hypothesis); the best hypothesis&apos;s path is bold. Hover a node for its text, click it for its step.</source>
        <translation>束搜索没有采样器阶段：每一步读取模型对每条存活束的原始分布，保留累计对数概率最高的 W 个扩展。蓝色：保留；灰色：剪除；绿色：结束（一个完成的假设）；最佳假设的路径加粗。悬停节点可看它的文本，点击可看它的那一步。</translation>
    </message>
    <message>
        <source>The beams step by step; hover a node for its text</source>
        <translation>逐步展示各条束；悬停节点可看它的文本</translation>
    </message>
    <message>
        <source>Click a node to see its step.</source>
        <translation>点击一个节点，查看它的那一步。</translation>
    </message>
    <message>
        <source>Open this hypothesis</source>
        <translation>打开这个假设</translation>
    </message>
    <message>
        <source>Use the selected finished hypothesis as the reply</source>
        <translation>把选中的完成假设用作回复</translation>
    </message>
    <message>
        <source>prompt</source>
        <translation>提示词</translation>
    </message>
    <message>
        <source>%1 · token log-probability %2 · total %3</source>
        <translation>%1 · 词元对数概率 %2 · 累计 %3</translation>
    </message>
    <message>
        <source>kept</source>
        <translation>保留</translation>
    </message>
    <message>
        <source>pruned</source>
        <translation>剪除</translation>
    </message>
    <message>
        <source>ended</source>
        <translation>结束</translation>
    </message>
    <message>
        <source>The prompt: every beam starts here.</source>
        <translation>提示词：每条束都从这里开始。</translation>
    </message>
    <message>
        <source>Step %1: beam %2 (total %3) read its raw distribution (entropy %4 nats; no sampler stages) and considered &apos;%5&apos; (log-probability %6): %7.</source>
        <translation>第 %1 步：束 %2（累计 %3）读取了它的原始分布（熵 %4 奈特；没有采样器阶段），考虑了“%5”（对数概率 %6）：%7。</translation>
    </message>
    <message>
        <source>Raw candidates: </source>
        <translation>原始候选：</translation>
    </message>
</context>
<context>
    <name>CandidatesModel</name>
    <message>
        <source>token</source>
        <translation>词元</translation>
    </message>
</context>
<context>
    <name>ChatView</name>
    <message>
        <source>unlikely</source>
        <translation>不太可能</translation>
    </message>
    <message>
        <source>likely</source>
        <translation>很可能</translation>
    </message>
    <message>
        <source>Token colour = the probability the model gave the token it wrote</source>
        <translation>词元颜色 = 模型给所写词元的概率</translation>
    </message>
    <message>
        <source>Show earlier messages</source>
        <translation>显示更早的消息</translation>
    </message>
    <message>
        <source>Load older messages of this conversation</source>
        <translation>加载此对话中更早的消息</translation>
    </message>
    <message>
        <source>Ask the model anything. Every token of its reply can be clicked to see how it was chosen.</source>
        <translation>随便问模型点什么。点击回复中的任一词元，即可看到它是如何被选出的。</translation>
    </message>
    <message>
        <source>Show earlier messages ({count})</source>
        <translation>显示更早的消息（{count}）</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <source>Send the message (Enter)</source>
        <translation>发送消息（Enter）</translation>
    </message>
    <message>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <source>Stop the reply (Esc)</source>
        <translation>停止回复（Esc）</translation>
    </message>
    <message>
        <source>Sends when loaded</source>
        <translation>加载后发送</translation>
    </message>
</context>
<context>
    <name>ComposerEdit</name>
    <message>
        <source>Message the model…  (Enter sends, Shift+Enter for a new line)</source>
        <translation>给模型发消息…（Enter 发送，Shift+Enter 换行）</translation>
    </message>
    <message>
        <source>Type a message. Enter or Ctrl+Enter sends, Shift+Enter adds a line, Esc stops a reply. Ctrl+L comes back here.</source>
        <translation>输入消息。Enter 或 Ctrl+Enter 发送，Shift+Enter 换行，Esc 停止回复。Ctrl+L 回到这里。</translation>
    </message>
</context>
<context>
    <name>ConversationList</name>
    <message>
        <source>d MMM</source>
        <translation>M月d日</translation>
    </message>
    <message>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <source>Start a new conversation (Ctrl+N)</source>
        <translation>开始新的对话（Ctrl+N）</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>搜索对话</translation>
    </message>
    <message>
        <source>Search titles and messages (Ctrl+F)</source>
        <translation>搜索标题和消息（Ctrl+F）</translation>
    </message>
    <message>
        <source>Conversations</source>
        <translation>对话</translation>
    </message>
    <message>
        <source>Your conversations; right-click to rename or delete</source>
        <translation>你的对话；右键可重命名或删除</translation>
    </message>
    <message>
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
    <message>
        <source>Rename conversation</source>
        <translation>重命名对话</translation>
    </message>
    <message>
        <source>Title:</source>
        <translation>标题：</translation>
    </message>
    <message>
        <source>Delete conversation</source>
        <translation>删除对话</translation>
    </message>
    <message>
        <source>Delete “{title}” and all its messages? This cannot be undone.</source>
        <translation>删除“{title}”及其全部消息？此操作无法撤销。</translation>
    </message>
</context>
<context>
    <name>ConversationModel</name>
    <message>
        <source>New chat</source>
        <translation>新对话</translation>
    </message>
    <message>
        <source>updated {when}</source>
        <translation>更新于 {when}</translation>
    </message>
</context>
<context>
    <name>CrashReportDialog</name>
    <message>
        <source>Tokenwise closed unexpectedly</source>
        <translation>Tokenwise 意外关闭</translation>
    </message>
    <message>
        <source>The last time, Tokenwise ended without closing. Your chats were saved as they streamed. If you report the problem, this helps:</source>
        <translation>上次 Tokenwise 未正常关闭就结束了。你的对话已在生成过程中随时保存。如需报告问题，以下信息会有帮助：</translation>
    </message>
    <message>
        <source>Crash report</source>
        <translation>崩溃报告</translation>
    </message>
    <message>
        <source>Versions and the last lines of the log</source>
        <translation>版本信息和日志的最后几行</translation>
    </message>
    <message>
        <source>Copy report</source>
        <translation>复制报告</translation>
    </message>
    <message>
        <source>Copy the report to the clipboard</source>
        <translation>把报告复制到剪贴板</translation>
    </message>
</context>
<context>
    <name>DownloadRow</name>
    <message>
        <source>How much of the file has arrived</source>
        <translation>文件已下载的部分</translation>
    </message>
    <message>
        <source>Waiting…</source>
        <translation>等待中…</translation>
    </message>
    <message>
        <source>Bytes received, speed and time left</source>
        <translation>已接收字节、速度和剩余时间</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Stop this download; what arrived is kept for a resume</source>
        <translation>停止此下载；已下载的部分会保留以便续传</translation>
    </message>
    <message>
        <source>Resume</source>
        <translation>继续</translation>
    </message>
    <message>
        <source>Continue the download where it stopped</source>
        <translation>从中断处继续下载</translation>
    </message>
    <message>
        <source>Interrupted at {have} of {total}. Resume continues there.</source>
        <translation>在 {have} / {total} 处中断。“继续”将从此处接着下载。</translation>
    </message>
    <message>
        <source>Interrupted at {have}. Resume continues there.</source>
        <translation>在 {have} 处中断。“继续”将从此处接着下载。</translation>
    </message>
    <message>
        <source> (part {index} of {total})</source>
        <translation>（第 {index} 部分，共 {total} 部分）</translation>
    </message>
    <message>
        <source>Retry</source>
        <translation>重试</translation>
    </message>
    <message>
        <source>Queued: starts when the download before it has finished.</source>
        <translation>排队中：前一个下载完成后开始。</translation>
    </message>
    <message>
        <source>Connecting</source>
        <translation>正在连接</translation>
    </message>
    <message>
        <source>Checking the sha256 and the GGUF header</source>
        <translation>正在校验 sha256 和 GGUF 文件头</translation>
    </message>
    <message>
        <source>, {time} left</source>
        <translation>，剩余 {time}</translation>
    </message>
    <message>
        <source>, resumed at {size}</source>
        <translation>，从 {size} 处续传</translation>
    </message>
    <message>
        <source>{done} of {total} at {speed}/s</source>
        <translation>{done} / {total}，{speed}/秒</translation>
    </message>
</context>
<context>
    <name>Downloads</name>
    <message>
        <source>The download failed unexpectedly: {error}</source>
        <translation>下载意外失败：{error}</translation>
    </message>
    <message>
        <source>Cancelled before it started.</source>
        <translation>在开始前已取消。</translation>
    </message>
</context>
<context>
    <name>HeatLegend</name>
    <message>
        <source>Token colour by the probability the model gave it</source>
        <translation>按模型给出的概率为词元着色</translation>
    </message>
    <message>
        <source>Colour key: {low} to {high}</source>
        <translation>颜色图例：{low} 到 {high}</translation>
    </message>
</context>
<context>
    <name>HubSearchPage</name>
    <message>
        <source>Search GGUF models, e.g. qwen 0.5b instruct</source>
        <translation>搜索 GGUF 模型，例如 qwen 0.5b instruct</translation>
    </message>
    <message>
        <source>Words to look for in repository names</source>
        <translation>在仓库名称中查找的词</translation>
    </message>
    <message>
        <source>Search</source>
        <translation>搜索</translation>
    </message>
    <message>
        <source>Search the hub, most downloaded first</source>
        <translation>搜索 Hub，下载最多的排在前面</translation>
    </message>
    <message>
        <source>What the hub answered</source>
        <translation>Hub 的答复</translation>
    </message>
    <message>
        <source>Repositories; select one to see its files</source>
        <translation>仓库；选择一个查看其文件</translation>
    </message>
    <message>
        <source>The repository&apos;s models; split files grouped</source>
        <translation>仓库中的模型；拆分的文件合为一组</translation>
    </message>
    <message>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <source>Download the selected file (all its parts)</source>
        <translation>下载所选文件（全部部分）</translation>
    </message>
    <message>
        <source>Searching…</source>
        <translation>正在搜索…</translation>
    </message>
    <message>
        <source>{count} repositories, most downloaded first.</source>
        <translation>{count} 个仓库，下载最多的排在前面。</translation>
    </message>
    <message>
        <source>No GGUF repositories match.</source>
        <translation>没有匹配的 GGUF 仓库。</translation>
    </message>
    <message>
        <source>Listing {repo}…</source>
        <translation>正在列出 {repo}…</translation>
    </message>
</context>
<context>
    <name>InspectorPanel</name>
    <message>
        <source>Step</source>
        <translation>步</translation>
    </message>
    <message>
        <source>Tokens</source>
        <translation>词元</translation>
    </message>
    <message>
        <source>Step mode is unavailable: {reason}</source>
        <translation>单步模式不可用：{reason}</translation>
    </message>
    <message>
        <source>No reply selected</source>
        <translation>未选择回复</translation>
    </message>
    <message>
        <source>Select a step</source>
        <translation>选择一步</translation>
    </message>
    <message>
        <source>Click a token of a reply, or a point on the timeline.</source>
        <translation>点击回复中的一个词元，或时间线上的一个点。</translation>
    </message>
    <message>
        <source> (forced)</source>
        <translation>（强制）</translation>
    </message>
    <message>
        <source>Step {index} of {total} · {token}</source>
        <translation>第 {index} 步，共 {total} 步 · {token}</translation>
    </message>
    <message>
        <source>top {shown} of {stored} stored</source>
        <translation>显示已存储 {stored} 个中的前 {shown} 个</translation>
    </message>
    <message>
        <source>id {id} · raw {raw} (rank {rank}) · drawn at {final} · entropy {entropy} nats · other tokens {other}</source>
        <translation>id {id} · 原始 {raw}（排名 {rank}）· 抽取时 {final} · 熵 {entropy} 奈特 · 其余词元 {other}</translation>
    </message>
    <message>
        <source>unavailable</source>
        <translation>不可用</translation>
    </message>
    <message>
        <source>beyond the top {0}</source>
        <translation>在前 {0} 个之外</translation>
    </message>
    <message>
        <source>id {id} · {raw} (rank {rank}) as the server reports it · drawn at {final} · entropy {entropy} · other tokens {other}</source>
        <translation>id {id} · 服务器报告的 {raw}（排名 {rank}）· 抽中时 {final} · 熵 {entropy} · 其他词元 {other}</translation>
    </message>
    <message>
        <source>Probabilities: {0}.</source>
        <translation>概率：{0}。</translation>
    </message>
    <message>
        <source>as reported by the server</source>
        <translation>按服务器的报告</translation>
    </message>
    <message>
        <source>Per-stage view</source>
        <translation>逐阶段视图</translation>
    </message>
    <message>
        <source>Entropy and the whole-vocabulary normaliser</source>
        <translation>熵与整个词表的归一化常数</translation>
    </message>
    <message>
        <source>{0} unavailable: {1}</source>
        <translation>{0}不可用：{1}</translation>
    </message>
    <message>
        <source>repeat {value}</source>
        <translation>重复 {value}</translation>
    </message>
    <message>
        <source>&lt;b&gt;What-if preview&lt;/b&gt; with the sliders ({settings}), recomputed from the stored logits; the reply itself was drawn with its own settings.</source>
        <translation>&lt;b&gt;假设预览&lt;/b&gt;：按滑块设置（{settings}）根据存储的 logit 重新计算；回复本身是按它自己的设置抽取的。</translation>
    </message>
    <message>
        <source>Branching is unavailable: {reason}</source>
        <translation>分支不可用：{reason}</translation>
    </message>
    <message>
        <source>Copy the candidates table</source>
        <translation>复制候选表</translation>
    </message>
    <message>
        <source>Continue with {token} here</source>
        <translation>从这里改用 {token} 继续</translation>
    </message>
</context>
<context>
    <name>LabWindow</name>
    <message>
        <source>Decoding strategies</source>
        <translation>解码策略</translation>
    </message>
    <message>
        <source>Compare strategies, score a text, or follow a beam search step by step</source>
        <translation>比较策略、给文本打分，或逐步查看一次束搜索</translation>
    </message>
    <message>
        <source>Compare</source>
        <translation>比较</translation>
    </message>
    <message>
        <source>Score</source>
        <translation>打分</translation>
    </message>
    <message>
        <source>Beam tree</source>
        <translation>束搜索树</translation>
    </message>
    <message>
        <source>A prompt for every column</source>
        <translation>每一列共用的提示词</translation>
    </message>
    <message>
        <source>The prompt every column answers (as a chat message)</source>
        <translation>每一列都要回答的提示词（作为一条聊天消息）</translation>
    </message>
    <message>
        <source>max tokens </source>
        <translation>最多词元数 </translation>
    </message>
    <message>
        <source>The most tokens each column writes</source>
        <translation>每一列最多写出的词元数</translation>
    </message>
    <message>
        <source>Run</source>
        <translation>运行</translation>
    </message>
    <message>
        <source>Write the prompt with every column&apos;s strategy</source>
        <translation>用每一列的策略回答提示词</translation>
    </message>
    <message>
        <source>Export JSON…</source>
        <translation>导出 JSON…</translation>
    </message>
    <message>
        <source>Save every column&apos;s tokens and figures</source>
        <translation>保存每一列的词元和数据</translation>
    </message>
    <message>
        <source>Export image…</source>
        <translation>导出图片…</translation>
    </message>
    <message>
        <source>Save this view as a PNG image</source>
        <translation>把此视图保存为 PNG 图片</translation>
    </message>
    <message>
        <source>Totals, perplexities and colours use the model&apos;s own distribution (temperature 1, nothing cut, no penalties), so columns compare fairly. </source>
        <translation>累计值、困惑度和颜色都按模型自己的分布计算（温度 1，不截断，无惩罚），因此各列可以公平比较。</translation>
    </message>
    <message>
        <source>A loop is a run of 3 or more tokens repeated back to back (the same tokens again right after themselves).</source>
        <translation>循环指连续重复的 3 个或更多词元（同样的词元紧接着再出现一次）。</translation>
    </message>
    <message>
        <source>Token colour by the probability the model gave it</source>
        <translation>按模型给出的概率为词元着色</translation>
    </message>
    <message>
        <source>Export the comparison</source>
        <translation>导出比较结果</translation>
    </message>
    <message>
        <source>Export an image</source>
        <translation>导出图片</translation>
    </message>
</context>
<context>
    <name>Language</name>
    <message>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
</context>
<context>
    <name>LanguageNotice</name>
    <message>
        <source>Not now</source>
        <translation>暂不</translation>
    </message>
    <message>
        <source>Hide this note until the next start</source>
        <translation>在下次启动前隐藏此提示</translation>
    </message>
    <message>
        <source>The starter model writes English only.</source>
        <translation>入门模型只会写英文。</translation>
    </message>
    <message>
        <source>{name} is installed and writes Chinese: use it to chat in Chinese.</source>
        <translation>{name} 已安装，能写中文：用它来进行中文对话吧。</translation>
    </message>
    <message>
        <source>Use {name}</source>
        <translation>使用 {name}</translation>
    </message>
    <message>
        <source>Load the multilingual model in the chat</source>
        <translation>在对话中加载这个多语言模型</translation>
    </message>
    <message>
        <source>To chat in Chinese, download {name} ({size}) from the catalogue: a small multilingual model that writes Chinese.</source>
        <translation>想用中文对话，可以从精选目录下载 {name}（{size}）：一个能写中文的小型多语言模型。</translation>
    </message>
    <message>
        <source>Download {name}</source>
        <translation>下载 {name}</translation>
    </message>
    <message>
        <source>Download the multilingual model; Models shows its progress</source>
        <extracomment>the catalogue&apos;s first download for a reader of Chinese</extracomment>
        <translation>下载这个多语言模型；“模型”窗口中可查看进度</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>This search&apos;s prompt is not the chat&apos;s last message (or a reply is being written): open or write that conversation first, then open the hypothesis.</source>
        <translation>这次搜索的提示词不是聊天的最后一条消息（或者正在写回复）：请先打开或写下那段对话，再打开这个假设。</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Loading the model</source>
        <translation>正在加载模型</translation>
    </message>
    <message>
        <source>&amp;New chat</source>
        <translation>新建对话(&amp;N)</translation>
    </message>
    <message>
        <source>Start a new conversation</source>
        <translation>开始新的对话</translation>
    </message>
    <message>
        <source>&amp;Send</source>
        <translation>发送(&amp;S)</translation>
    </message>
    <message>
        <source>Send the message</source>
        <translation>发送消息</translation>
    </message>
    <message>
        <source>S&amp;top</source>
        <translation>停止(&amp;T)</translation>
    </message>
    <message>
        <source>Stop the reply</source>
        <translation>停止回复</translation>
    </message>
    <message>
        <source>&amp;Regenerate</source>
        <translation>重新生成(&amp;R)</translation>
    </message>
    <message>
        <source>Write the last reply again (keeps the old one)</source>
        <translation>重新写最后一条回复（保留旧的）</translation>
    </message>
    <message>
        <source>Focus &amp;composer</source>
        <translation>聚焦输入框(&amp;C)</translation>
    </message>
    <message>
        <source>Type a message</source>
        <translation>输入消息</translation>
    </message>
    <message>
        <source>&amp;Search conversations</source>
        <translation>搜索对话(&amp;S)</translation>
    </message>
    <message>
        <source>Search conversations</source>
        <translation>搜索对话</translation>
    </message>
    <message>
        <source>System &amp;prompt…</source>
        <translation>系统提示词(&amp;P)…</translation>
    </message>
    <message>
        <source>The instructions the model gets before the chat</source>
        <translation>模型在对话前收到的指示</translation>
    </message>
    <message>
        <source>Rena&amp;me chat…</source>
        <translation>重命名对话(&amp;M)…</translation>
    </message>
    <message>
        <source>Rename this conversation</source>
        <translation>重命名此对话</translation>
    </message>
    <message>
        <source>&amp;Delete chat…</source>
        <translation>删除对话(&amp;D)…</translation>
    </message>
    <message>
        <source>Delete this conversation</source>
        <translation>删除此对话</translation>
    </message>
    <message>
        <source>&amp;Inspector</source>
        <translation>检查器(&amp;I)</translation>
    </message>
    <message>
        <source>Show or hide the token inspector</source>
        <translation>显示或隐藏词元检查器</translation>
    </message>
    <message>
        <source>&amp;Heatmap</source>
        <translation>热力图(&amp;H)</translation>
    </message>
    <message>
        <source>Colour each token by its probability</source>
        <translation>按概率为每个词元着色</translation>
    </message>
    <message>
        <source>Se&amp;ttings…</source>
        <translation>设置(&amp;T)…</translation>
    </message>
    <message>
        <source>Context length, GPU layers, theme, font size, language</source>
        <translation>上下文长度、GPU 层数、主题、字号、语言</translation>
    </message>
    <message>
        <source>&amp;Models…</source>
        <translation>模型(&amp;M)…</translation>
    </message>
    <message>
        <source>Download, import and choose models</source>
        <translation>下载、导入和选择模型</translation>
    </message>
    <message>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <source>Quit Tokenwise</source>
        <translation>退出 Tokenwise</translation>
    </message>
    <message>
        <source>&amp;Tour of one generation</source>
        <translation>一次生成的导览(&amp;T)</translation>
    </message>
    <message>
        <source>Eight stops through one real generation, step by step</source>
        <translation>分八站，一步一步走完一次真实的生成</translation>
    </message>
    <message>
        <source>&amp;About Tokenwise</source>
        <translation>关于 Tokenwise(&amp;A)</translation>
    </message>
    <message>
        <source>Version, backend and the licences of every part</source>
        <translation>版本、后端以及各组成部分的许可证</translation>
    </message>
    <message>
        <source>&amp;Compare strategies…</source>
        <translation>比较策略(&amp;C)…</translation>
    </message>
    <message>
        <source>Greedy, beam search and sampling side by side on one prompt</source>
        <translation>在同一个提示词上并排比较贪心、束搜索和采样</translation>
    </message>
    <message>
        <source>Score a &amp;text…</source>
        <translation>给文本打分(&amp;T)…</translation>
    </message>
    <message>
        <source>Every token of a text scored in one pass</source>
        <translation>一次前向计算给文本的每个词元打分</translation>
    </message>
    <message>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <source>&amp;Chat</source>
        <translation>对话(&amp;C)</translation>
    </message>
    <message>
        <source>&amp;View</source>
        <translation>视图(&amp;V)</translation>
    </message>
    <message>
        <source>&amp;Model</source>
        <translation>模型(&amp;M)</translation>
    </message>
    <message>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <source>No model is installed. Open Models (Ctrl+M) to download one.</source>
        <translation>尚未安装任何模型。打开“模型”（Ctrl+M）下载一个。</translation>
    </message>
    <message>
        <source>Loading…</source>
        <translation>加载中…</translation>
    </message>
    <message>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <source>Instructions the model reads before this conversation:</source>
        <translation>模型在此对话之前读取的指示：</translation>
    </message>
    <message>
        <source>{count} downloads are still running.</source>
        <translation>还有 {count} 个下载正在进行。</translation>
    </message>
    <message>
        <source>1 download is still running.</source>
        <translation>还有 1 个下载正在进行。</translation>
    </message>
    <message>
        <source>Quit while downloading?</source>
        <translation>正在下载，仍要退出？</translation>
    </message>
    <message>
        <source>Quit anyway? What has arrived is kept, and the download carries on the next time Tokenwise starts.</source>
        <translation>仍要退出吗？已下载的部分会保留，下次启动 Tokenwise 时继续下载。</translation>
    </message>
</context>
<context>
    <name>MessageBubble</name>
    <message>
        <source>Previous version of this message</source>
        <translation>此消息的上一个版本</translation>
    </message>
    <message>
        <source>Next version of this message</source>
        <translation>此消息的下一个版本</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copy this message to the clipboard</source>
        <translation>把此消息复制到剪贴板</translation>
    </message>
    <message>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <source>Edit this message and send it again (the earlier version is kept)</source>
        <translation>编辑此消息并重新发送（保留之前的版本）</translation>
    </message>
    <message>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <source>Write this reply again (Ctrl+R); the earlier version is kept</source>
        <translation>重新写这条回复（Ctrl+R）；保留之前的版本</translation>
    </message>
    <message>
        <source>Continue</source>
        <translation>继续写</translation>
    </message>
    <message>
        <source>This reply was cut off: write on from where it stopped (as a new version that keeps every token so far)</source>
        <translation>这条回复被截断了：从中断处接着写（作为保留现有全部词元的新版本）</translation>
    </message>
    <message>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>{count} tokens</source>
        <translation>{count} 个词元</translation>
    </message>
    <message>
        <source>{rate} tok/s</source>
        <translation>{rate} 词元/秒</translation>
    </message>
    <message>
        <source>interrupted</source>
        <translation>已中断</translation>
    </message>
    <message>
        <source>Edit the message; Save &amp; send keeps the earlier version</source>
        <translation>编辑消息；“保存并发送”会保留之前的版本</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Keep the message as it is</source>
        <translation>保持消息不变</translation>
    </message>
    <message>
        <source>Save &amp;&amp; send</source>
        <translation>保存并发送</translation>
    </message>
    <message>
        <source>Send the edited message as a new version</source>
        <translation>把编辑后的消息作为新版本发送</translation>
    </message>
    <message>
        <source>d MMM</source>
        <translation>M月d日</translation>
    </message>
    <message>
        <source>d MMM yyyy</source>
        <translation>yyyy年M月d日</translation>
    </message>
</context>
<context>
    <name>ModelPicker</name>
    <message>
        <source>{0} — remote, {1}</source>
        <translation>{0} — 远程，{1}</translation>
    </message>
    <message>
        <source>The model that answers; choosing another one loads it</source>
        <translation>负责回答的模型；选择其他模型即会加载它</translation>
    </message>
</context>
<context>
    <name>ModelsWindow</name>
    <message>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <source>Installed models, curated models, or the whole hub</source>
        <translation>已安装的模型、精选模型或整个 Hub</translation>
    </message>
    <message>
        <source>Installed</source>
        <translation>已安装</translation>
    </message>
    <message>
        <source>Catalogue</source>
        <translation>精选目录</translation>
    </message>
    <message>
        <source>Search the hub</source>
        <translation>搜索 Hub</translation>
    </message>
    <message>
        <source>Downloads run one after another; an interrupted one can be resumed</source>
        <translation>下载依次进行；中断的下载可以续传</translation>
    </message>
    <message>
        <source>Downloads</source>
        <translation>下载</translation>
    </message>
    <message>
        <source>Your models; double-click one to use it</source>
        <translation>你的模型；双击即可使用</translation>
    </message>
    <message>
        <source>Read from the model file&apos;s GGUF metadata</source>
        <translation>读取自模型文件的 GGUF 元数据</translation>
    </message>
    <message>
        <source> tokens</source>
        <translation> 个词元</translation>
    </message>
    <message>
        <source>Context length to plan for: the KV cache grows with it</source>
        <translation>按此上下文长度估算：KV 缓存随之增长</translation>
    </message>
    <message>
        <source>Weights plus KV cache against free memory (an estimate)</source>
        <translation>权重加 KV 缓存与可用内存的对比（估算）</translation>
    </message>
    <message>
        <source>Chat template…</source>
        <translation>聊天模板…</translation>
    </message>
    <message>
        <source>Show the Jinja chat template stored in the model file</source>
        <translation>显示模型文件中存储的 Jinja 聊天模板</translation>
    </message>
    <message>
        <source>Plan for</source>
        <translation>估算长度</translation>
    </message>
    <message>
        <source>Use this model</source>
        <translation>使用此模型</translation>
    </message>
    <message>
        <source>Load the selected model in the chat</source>
        <translation>在对话中加载所选模型</translation>
    </message>
    <message>
        <source>Import…</source>
        <translation>导入…</translation>
    </message>
    <message>
        <source>Add a .gguf file from this computer</source>
        <translation>从本机添加一个 .gguf 文件</translation>
    </message>
    <message>
        <source>Remove…</source>
        <translation>移除…</translation>
    </message>
    <message>
        <source>Remove the selected model (asks first)</source>
        <translation>移除所选模型（会先询问）</translation>
    </message>
    <message>
        <source>Hub token…</source>
        <translation>Hub 令牌…</translation>
    </message>
    <message>
        <source>Access token for gated or private models on the hub</source>
        <translation>Hub 上受限或私有模型的访问令牌</translation>
    </message>
    <message>
        <source>The import of a model file</source>
        <translation>模型文件的导入</translation>
    </message>
    <message>
        <source>How much of the model file is copied</source>
        <translation>模型文件已复制的部分</translation>
    </message>
    <message>
        <source>Cancel import</source>
        <translation>取消导入</translation>
    </message>
    <message>
        <source>Stop copying; nothing is kept</source>
        <translation>停止复制；不保留任何内容</translation>
    </message>
    <message>
        <source>Architecture</source>
        <translation>架构</translation>
    </message>
    <message>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <source>Layers</source>
        <translation>层数</translation>
    </message>
    <message>
        <source>Context length</source>
        <translation>上下文长度</translation>
    </message>
    <message>
        <source>Vocabulary</source>
        <translation>词表</translation>
    </message>
    <message>
        <source>{count} tokens</source>
        <translation>{count} 个词元</translation>
    </message>
    <message>
        <source>License</source>
        <translation>许可证</translation>
    </message>
    <message>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <source>Source</source>
        <translation>来源</translation>
    </message>
    <message>
        <source>Repository</source>
        <translation>仓库</translation>
    </message>
    <message>
        <source>Chat template of {name}</source>
        <translation>{name} 的聊天模板</translation>
    </message>
    <message>
        <source>(no chat template)</source>
        <translation>（没有聊天模板）</translation>
    </message>
    <message>
        <source>How the conversation is turned into one text before tokenization</source>
        <translation>对话在分词之前如何拼成一段文本</translation>
    </message>
    <message>
        <source>Import a GGUF model</source>
        <translation>导入 GGUF 模型</translation>
    </message>
    <message>
        <source>GGUF models (*.gguf);;All files (*)</source>
        <translation>GGUF 模型 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Import model</source>
        <translation>导入模型</translation>
    </message>
    <message>
        <source>Use {name} where it is, or copy it into Tokenwise&apos;s folder?</source>
        <translation>就地使用 {name}，还是把它复制到 Tokenwise 的文件夹？</translation>
    </message>
    <message>
        <source>Use in place</source>
        <translation>就地使用</translation>
    </message>
    <message>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <source>Copying {name}…</source>
        <translation>正在复制 {name}…</translation>
    </message>
    <message>
        <source>Adding {name}…</source>
        <translation>正在添加 {name}…</translation>
    </message>
    <message>
        <source>Import cancelled.</source>
        <translation>导入已取消。</translation>
    </message>
    <message>
        <source>Copying: {done} of {total}</source>
        <translation>正在复制：{done} / {total}</translation>
    </message>
    <message>
        <source>Imported {name}.</source>
        <translation>已导入 {name}。</translation>
    </message>
    <message>
        <source>Cannot import</source>
        <translation>无法导入</translation>
    </message>
    <message>
        <source>Its file ({size}) will be deleted.</source>
        <translation>它的文件（{size}）将被删除。</translation>
    </message>
    <message>
        <source>Tokenwise will forget it; the file itself stays where it is.</source>
        <translation>Tokenwise 将不再记录它；文件本身保留在原处。</translation>
    </message>
    <message>
        <source>Remove model</source>
        <translation>移除模型</translation>
    </message>
    <message>
        <source>Remove {name}?</source>
        <translation>移除 {name}？</translation>
    </message>
    <message>
        <source>Cannot remove</source>
        <translation>无法移除</translation>
    </message>
    <message>
        <source>Hub access token</source>
        <translation>Hub 访问令牌</translation>
    </message>
    <message>
        <source>Token for gated or private models (empty: use huggingface_hub&apos;s own login).
It is kept in {place}.</source>
        <translation>用于受限或私有模型的令牌（留空：使用 huggingface_hub 自己的登录）。
它保存在 {place} 中。</translation>
    </message>
    <message>
        <source>Curated instruct models; double-click to download</source>
        <translation>精选指令模型；双击即可下载</translation>
    </message>
    <message>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <source>Download the selected model</source>
        <translation>下载所选模型</translation>
    </message>
    <message>
        <source>Cannot download</source>
        <translation>无法下载</translation>
    </message>
</context>
<context>
    <name>SamplingPanel</name>
    <message>
        <source>Sampling</source>
        <translation>采样</translation>
    </message>
    <message>
        <source>Always the most probable token: repeatable, but prone to loops.</source>
        <translation>总是取概率最高的词元：结果可复现，但容易陷入循环。</translation>
    </message>
    <message>
        <source>Low temperature and tight cut-offs: focused, little variety.</source>
        <translation>低温度、严格截断：专注，变化少。</translation>
    </message>
    <message>
        <source>Moderate temperature, top-k 40, top-p 0.95: the usual default.</source>
        <translation>适中温度，top-k 40，top-p 0.95：常用默认值。</translation>
    </message>
    <message>
        <source>High temperature, loose cut-offs, a mild repeat penalty: varied text.</source>
        <translation>高温度、宽松截断、轻微重复惩罚：文字更多样。</translation>
    </message>
    <message>
        <source>More settings</source>
        <translation>更多设置</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <source>The random generator&apos;s start: a fixed seed makes the same settings draw the same reply again.</source>
        <translation>随机数生成器的起点：固定种子时，相同设置会抽出相同的回复。</translation>
    </message>
    <message>
        <source>random</source>
        <translation>随机</translation>
    </message>
    <message>
        <source>A new seed for every reply.</source>
        <translation>每条回复使用新的种子。</translation>
    </message>
</context>
<context>
    <name>ScoreTab</name>
    <message>
        <source>Paste a text to score</source>
        <translation>粘贴要打分的文本</translation>
    </message>
    <message>
        <source>The text to score: every token given everything before it</source>
        <translation>要打分的文本：每个词元都以它前面的全部内容为条件</translation>
    </message>
    <message>
        <source>Score</source>
        <translation>打分</translation>
    </message>
    <message>
        <source>Score every token of the text in one pass</source>
        <translation>一次前向计算给文本的每个词元打分</translation>
    </message>
    <message>
        <source>Score the last reply</source>
        <translation>给最后一条回复打分</translation>
    </message>
    <message>
        <source>Score the chat&apos;s last reply after its own prompt, beside the time its generation took</source>
        <translation>在它自己的提示词之后给聊天的最后一条回复打分，并与生成它所用的时间对比</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Stop the pass</source>
        <translation>停止这次计算</translation>
    </message>
    <message>
        <source>Tokens scored so far</source>
        <translation>已打分的词元</translation>
    </message>
    <message>
        <source>The text, each token shaded by its probability given everything before it</source>
        <translation>文本；每个词元按它在前文条件下的概率着色</translation>
    </message>
    <message>
        <source>#</source>
        <translation>序号</translation>
    </message>
    <message>
        <source>Token</source>
        <translation>词元</translation>
    </message>
    <message>
        <source>Probability</source>
        <translation>概率</translation>
    </message>
    <message>
        <source>Rank</source>
        <translation>排名</translation>
    </message>
    <message>
        <source>Entropy</source>
        <translation>熵</translation>
    </message>
    <message>
        <source>Top alternatives</source>
        <translation>最佳备选</translation>
    </message>
    <message>
        <source>Every scored token: its probability, rank, the entropy of the distribution and the best alternatives</source>
        <translation>每个已打分的词元：它的概率、排名、分布的熵和最佳备选</translation>
    </message>
    <message>
        <source>There is no finished reply in the chat to score.</source>
        <translation>聊天中没有已完成的回复可以打分。</translation>
    </message>
    <message>
        <source>Scoring…</source>
        <translation>正在打分…</translation>
    </message>
    <message>
        <source>Cancelled.</source>
        <translation>已取消。</translation>
    </message>
    <message>
        <source>%1 tokens scored in one pass in %2 s · perplexity %3</source>
        <translation>一次计算给 %1 个词元打分，用时 %2 秒 · 困惑度 %3</translation>
    </message>
    <message>
        <source>Writing this reply one token at a time took about %1 s: the pass is %2x faster, because every position is computed at once, as in training.</source>
        <translation>逐个词元写出这条回复大约用了 %1 秒：这次计算快 %2 倍，因为所有位置同时计算，和训练时一样。</translation>
    </message>
    <message>
        <source>Generating as many tokens one at a time would take about %1 s (measured on %2 tokens): the pass is %3x faster, because every position is computed at once, as in training.</source>
        <translation>逐个生成同样多的词元大约需要 %1 秒（按 %2 个词元实测）：这次计算快 %3 倍，因为所有位置同时计算，和训练时一样。</translation>
    </message>
    <message>
        <source>This model uses no beginning-of-text token: the first token has nothing before it and is not scored.</source>
        <translation>此模型不使用文本开始词元：第一个词元前面没有内容，因此不打分。</translation>
    </message>
    <message>
        <source>Cancelled: the tokens scored so far are shown.</source>
        <translation>已取消：显示的是已打分的词元。</translation>
    </message>
</context>
<context>
    <name>ServersPanel</name>
    <message>
        <source>Inference servers</source>
        <translation>推理服务器</translation>
    </message>
    <message>
        <source>Servers whose models the model picker lists</source>
        <translation>模型选择器列出其模型的服务器</translation>
    </message>
    <message>
        <source>A name for the server, shown beside its models</source>
        <translation>服务器的名称，显示在其模型旁</translation>
    </message>
    <message>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <source>The server&apos;s base URL (llama-server, vLLM, SGLang, llama-cpp-python, Ollama, LM Studio)</source>
        <translation>服务器的基础 URL（llama-server、vLLM、SGLang、llama-cpp-python、Ollama、LM Studio）</translation>
    </message>
    <message>
        <source>Base URL</source>
        <translation>基础 URL</translation>
    </message>
    <message>
        <source>The API key, if the server wants one. Kept in the system keyring (else in a file only you can read), never in the settings or the chat history</source>
        <translation>API 密钥（如果服务器需要）。保存在系统钥匙串中（没有时保存在只有你能读取的文件中），绝不写入设置或对话记录</translation>
    </message>
    <message>
        <source>API key</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <source>A CA certificate file (PEM) for a server with a self-signed certificate; empty for none</source>
        <translation>自签名证书服务器的 CA 证书文件（PEM）；留空表示不用</translation>
    </message>
    <message>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <source>Choose the CA certificate file</source>
        <translation>选择 CA 证书文件</translation>
    </message>
    <message>
        <source>CA certificate</source>
        <translation>CA 证书</translation>
    </message>
    <message>
        <source>New</source>
        <translation>新建</translation>
    </message>
    <message>
        <source>Clear the form to add another server</source>
        <translation>清空表单以添加另一台服务器</translation>
    </message>
    <message>
        <source>Save</source>
        <translation>保存</translation>
    </message>
    <message>
        <source>Save this server (and its key, if one is typed)</source>
        <translation>保存此服务器（以及输入的密钥）</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <source>Remove the selected server and forget its key</source>
        <translation>移除所选服务器并忘记其密钥</translation>
    </message>
    <message>
        <source>Test connection</source>
        <translation>测试连接</translation>
    </message>
    <message>
        <source>Ask the server what it is and what it can give</source>
        <translation>询问服务器是什么、能提供什么</translation>
    </message>
    <message>
        <source>saved — type to replace</source>
        <translation>已保存 — 输入以替换</translation>
    </message>
    <message>
        <source>none</source>
        <translation>无</translation>
    </message>
    <message>
        <source>Certificates (*.pem *.crt *.cer);;All files (*)</source>
        <translation>证书 (*.pem *.crt *.cer);;所有文件 (*)</translation>
    </message>
    <message>
        <source>Type the server&apos;s base URL first.</source>
        <translation>请先输入服务器的基础 URL。</translation>
    </message>
    <message>
        <source>Saved.</source>
        <translation>已保存。</translation>
    </message>
    <message>
        <source>Removed {0}.</source>
        <translation>已移除 {0}。</translation>
    </message>
    <message>
        <source>Testing {0}…</source>
        <translation>正在测试 {0}…</translation>
    </message>
    <message>
        <source>Test connection failed: {0}</source>
        <translation>测试连接失败：{0}</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>This build of llama-cpp-python runs on the CPU only, so GPU layers are ignored. To use a GPU, install a GPU build: see the README, section “GPU builds”.</source>
        <translation>此 llama-cpp-python 构建只能在 CPU 上运行，因此 GPU 层数设置会被忽略。要使用 GPU，请安装 GPU 构建：见 README 的“GPU builds”一节。</translation>
    </message>
    <message>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source> tokens</source>
        <translation> 个词元</translation>
    </message>
    <message>
        <source>How many tokens the model sees at once (prompt + reply). Longer costs memory; older turns are left out beyond it.</source>
        <translation>模型一次能看到的词元数（提示词 + 回复）。越长越占内存；超出部分会略去较早的对话轮次。</translation>
    </message>
    <message>
        <source>Context length</source>
        <translation>上下文长度</translation>
    </message>
    <message>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <source>Layers offloaded to the GPU: 0 = CPU only, all = every layer</source>
        <translation>卸载到 GPU 的层数：0 = 仅用 CPU，全部 = 所有层</translation>
    </message>
    <message>
        <source> (this model has {layers})</source>
        <translation>（此模型有 {layers} 层）</translation>
    </message>
    <message>
        <source>GPU layers</source>
        <translation>GPU 层数</translation>
    </message>
    <message>
        <source>automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <source>CPU threads for the model; automatic uses the cores and gives one up while the machine is too busy for them (llama.cpp&apos;s threads stall when a core is taken)</source>
        <translation>模型使用的 CPU 线程数；“自动”会使用各个核心，并在机器太忙时让出一个（核心被占用时 llama.cpp 的线程会停顿）</translation>
    </message>
    <message>
        <source>Threads</source>
        <translation>线程数</translation>
    </message>
    <message>
        <source>The sampler settings a new chat starts with</source>
        <translation>新对话开始时使用的采样设置</translation>
    </message>
    <message>
        <source>Default sampler</source>
        <translation>默认采样</translation>
    </message>
    <message>
        <source>System follows the desktop&apos;s light or dark mode</source>
        <translation>“跟随系统”会随桌面的浅色或深色模式变化</translation>
    </message>
    <message>
        <source>Theme</source>
        <translation>主题</translation>
    </message>
    <message>
        <source> pt</source>
        <translation> 磅</translation>
    </message>
    <message>
        <source>Text size in the whole window</source>
        <translation>整个窗口的文字大小</translation>
    </message>
    <message>
        <source>Font size</source>
        <translation>字号</translation>
    </message>
    <message>
        <source>The language of the window and of the explanations; System follows the desktop. Applies at the next start.</source>
        <translation>窗口和讲解所用的语言；“跟随系统”与桌面语言一致。下次启动时生效。</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
</context>
<context>
    <name>StageTable</name>
    <message>
        <source>Approximate: the {stage} stage keeps {kept} tokens but only its top {stored} were stored, so the later stages are computed on those alone.</source>
        <translation>近似值：{stage} 阶段保留了 {kept} 个词元，但只存储了前 {stored} 个，因此后续阶段仅基于这些计算。</translation>
    </message>
    <message>
        <source>Approximate: the server reported only its top {0} candidates (probabilities as it reports them); the stages are computed over those alone.</source>
        <translation>近似：服务器只报告了前 {0} 个候选（概率按服务器的报告）；各阶段仅在这些候选上计算。</translation>
    </message>
</context>
<context>
    <name>StageView</name>
    <message>
        <source>{count} tokens in play.</source>
        <translation>{count} 个词元仍在候选中。</translation>
    </message>
    <message>
        <source>raw rank {rank}</source>
        <translation>原始排名 {rank}</translation>
    </message>
    <message>
        <source>below the stored top-K</source>
        <translation>在已存储的前 K 名之外</translation>
    </message>
    <message>
        <source>the token this step chose</source>
        <translation>这一步选中的词元</translation>
    </message>
    <message>
        <source>click to continue the reply with this token here</source>
        <translation>点击即可从这里改用此词元继续回复</translation>
    </message>
    <message>
        <source>Select a token of a reply to see its candidates.</source>
        <translation>选择回复中的一个词元以查看其候选。</translation>
    </message>
    <message>
        <source>final</source>
        <translation>最终</translation>
    </message>
    <message>
        <source>whole vocabulary</source>
        <translation>整个词表</translation>
    </message>
    <message>
        <source>{count} left</source>
        <translation>剩 {count} 个</translation>
    </message>
    <message>
        <source>off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>preview</source>
        <translation>预览</translation>
    </message>
    <message>
        <source>all other tokens</source>
        <translation>其余所有词元</translation>
    </message>
    <message>
        <source>cut after {count} ↓</source>
        <translation>在第 {count} 个之后截断 ↓</translation>
    </message>
    <message>
        <source>top-p {value} reached</source>
        <translation>达到 top-p {value}</translation>
    </message>
</context>
<context>
    <name>StatusBar</name>
    <message>
        <source>No model</source>
        <translation>无模型</translation>
    </message>
    <message>
        <source>remote: {0}</source>
        <translation>远程：{0}</translation>
    </message>
    <message>
        <source>{backend} · {offloaded}/{layers} layers</source>
        <translation>{backend} · {offloaded}/{layers} 层</translation>
    </message>
    <message>
        <source>Where the model runs: CPU, or a GPU backend with the number of layers offloaded</source>
        <translation>模型运行的位置：CPU，或 GPU 后端及卸载的层数</translation>
    </message>
    <message>
        <source>– tok/s</source>
        <translation>– 词元/秒</translation>
    </message>
    <message>
        <source>Tokens per second of the reply being written, or of the last one</source>
        <translation>正在生成的回复（没有时为上一条回复）每秒生成的词元数</translation>
    </message>
    <message>
        <source>first token –</source>
        <translation>首词元 –</translation>
    </message>
    <message>
        <source>Time from sending to the first token of the reply</source>
        <translation>从发送到回复第一个词元所用的时间</translation>
    </message>
    <message>
        <source>context 0 / –</source>
        <translation>上下文 0 / –</translation>
    </message>
    <message>
        <source>Tokens in the context (prompt + reply) / context length</source>
        <translation>上下文中的词元数（提示词 + 回复）/ 上下文长度</translation>
    </message>
    <message>
        <source>The running download; Models shows them all</source>
        <translation>正在进行的下载；“模型”窗口中可看到全部</translation>
    </message>
    <message>
        <source>{name}: {layers} layers, {backend}</source>
        <translation>{name}：{layers} 层，{backend}</translation>
    </message>
    <message>
        <source>This build runs on the CPU only: GPU offload needs a GPU build of llama-cpp-python (README.md, section “GPU builds”).</source>
        <translation>此构建只能在 CPU 上运行：GPU 卸载需要 llama-cpp-python 的 GPU 构建（见 README.md 的“GPU builds”一节）。</translation>
    </message>
    <message>
        <source>context {used} / {size}</source>
        <translation>上下文 {used} / {size}</translation>
    </message>
    <message>
        <source>{rate} tok/s</source>
        <translation>{rate} 词元/秒</translation>
    </message>
    <message>
        <source>first token {seconds} s</source>
        <translation>首词元 {seconds} 秒</translation>
    </message>
    <message>
        <source>context {used}</source>
        <translation>上下文 {used}</translation>
    </message>
    <message>
        <source>Downloaded {title}.</source>
        <translation>已下载 {title}。</translation>
    </message>
    <message>
        <source>Download failed: {reason}</source>
        <translation>下载失败：{reason}</translation>
    </message>
    <message>
        <source> (+{count} queued)</source>
        <translation>（另有 {count} 个排队）</translation>
    </message>
    <message>
        <source>Downloading {title} {percent}</source>
        <translation>正在下载 {title} {percent}</translation>
    </message>
</context>
<context>
    <name>StepView</name>
    <message>
        <source>Step mode</source>
        <translation>单步模式</translation>
    </message>
    <message>
        <source>Generate one token per click (or Space / N / Ctrl+Right) and watch the distribution each one is drawn from.</source>
        <translation>每点击一次（或按 Space / N / Ctrl+Right）生成一个词元，观察每个词元是从怎样的分布中抽出的。</translation>
    </message>
    <message>
        <source>Next ▸</source>
        <translation>下一个 ▸</translation>
    </message>
    <message>
        <source>Generate exactly one more token (Space, N or Ctrl+Right)</source>
        <translation>再生成一个词元（Space、N 或 Ctrl+Right）</translation>
    </message>
    <message>
        <source>Finish ▸▸</source>
        <translation>完成 ▸▸</translation>
    </message>
    <message>
        <source>Run to end: leave step mode and let the reply finish</source>
        <translation>运行到底：退出单步模式，让回复写完</translation>
    </message>
    <message>
        <source>Top</source>
        <translation>前</translation>
    </message>
    <message>
        <source>How many candidates to show (5 to 50, at most as many as stored)</source>
        <translation>显示多少个候选（5 到 50，不超过已存储的数量）</translation>
    </message>
    <message>
        <source>Candidates shown</source>
        <translation>显示的候选数</translation>
    </message>
    <message>
        <source>Export</source>
        <translation>导出</translation>
    </message>
    <message>
        <source>Reply trace as JSON…</source>
        <translation>回复轨迹（JSON）…</translation>
    </message>
    <message>
        <source>Reply trace as CSV…</source>
        <translation>回复轨迹（CSV）…</translation>
    </message>
    <message>
        <source>Candidates view as PNG…</source>
        <translation>候选视图（PNG）…</translation>
    </message>
    <message>
        <source>No reply selected</source>
        <translation>未选择回复</translation>
    </message>
    <message>
        <source>Show as generated</source>
        <translation>显示实际生成时的情况</translation>
    </message>
    <message>
        <source>Show the stages this reply was really generated with (the sliders stay)</source>
        <translation>显示这条回复实际生成时经过的各阶段（滑块保持不变）</translation>
    </message>
</context>
<context>
    <name>StrategyColumn</name>
    <message>
        <source>Off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <source>Greedy</source>
        <translation>贪心</translation>
    </message>
    <message>
        <source>Beam search</source>
        <translation>束搜索</translation>
    </message>
    <message>
        <source>Sampling</source>
        <translation>采样</translation>
    </message>
    <message>
        <source>How column %1 writes: greedy, beam search or sampling</source>
        <translation>第 %1 列的写法：贪心、束搜索或采样</translation>
    </message>
    <message>
        <source>Beam width: how many hypotheses are kept</source>
        <translation>束宽：保留多少个假设</translation>
    </message>
    <message>
        <source>Length penalty alpha: score = total log-probability / length^alpha</source>
        <translation>长度惩罚 α：得分 = 累计对数概率 / 长度^α</translation>
    </message>
    <message>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <source>Top-k: 0 is off</source>
        <translation>Top-k：0 表示关闭</translation>
    </message>
    <message>
        <source>Top-p (nucleus): 1 is off</source>
        <translation>Top-p（核采样）：1 表示关闭</translation>
    </message>
    <message>
        <source>Min-p: 0 is off</source>
        <translation>Min-p：0 表示关闭</translation>
    </message>
    <message>
        <source>Seed: the same seed draws the same reply again</source>
        <translation>种子：相同的种子会再次抽出相同的回复</translation>
    </message>
    <message>
        <source>Width</source>
        <translation>束宽</translation>
    </message>
    <message>
        <source>Alpha</source>
        <translation>α 值</translation>
    </message>
    <message>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <source>Min-p</source>
        <translation>Min-p</translation>
    </message>
    <message>
        <source>Seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <source>Tokens written so far</source>
        <translation>已写出的词元</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Stop this column between two steps</source>
        <translation>在两步之间停止这一列</translation>
    </message>
    <message>
        <source>The reply; each token shaded by the probability the model gave it; repeated loops underlined in red</source>
        <translation>回复；每个词元按模型给它的概率着色；重复循环用红色下划线标出</translation>
    </message>
    <message>
        <source>%1: writing…</source>
        <translation>%1：正在写…</translation>
    </message>
    <message>
        <source>Beam search, width %1</source>
        <translation>束搜索，宽度 %1</translation>
    </message>
    <message>
        <source>temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <source>&lt;b&gt;%1&lt;/b&gt; · %2 tokens · %3 s</source>
        <translation>&lt;b&gt;%1&lt;/b&gt; · %2 个词元 · %3 秒</translation>
    </message>
    <message>
        <source>total log-probability %1 nats · perplexity %2</source>
        <translation>累计对数概率 %1 奈特 · 困惑度 %2</translation>
    </message>
    <message>
        <source>repetition loops: %1</source>
        <translation>重复循环：%1</translation>
    </message>
    <message>
        <source>cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>Cancelled.</source>
        <translation>已取消。</translation>
    </message>
</context>
<context>
    <name>TimelineChart</name>
    <message>
        <source>Timeline of the reply&apos;s steps</source>
        <translation>回复各步的时间线</translation>
    </message>
    <message>
        <source>Probability and entropy of every step; the arrow keys choose a step</source>
        <translation>每一步的概率和熵；用方向键选择一步</translation>
    </message>
    <message>
        <source>step {index}: {token}
probability {probability} · entropy {entropy}</source>
        <translation>第 {index} 步：{token}
概率 {probability} · 熵 {entropy}</translation>
    </message>
    <message>
        <source>{0} nats</source>
        <translation>{0} 奈特</translation>
    </message>
    <message>
        <source>unavailable</source>
        <translation>不可用</translation>
    </message>
    <message>
        <source>No reply yet</source>
        <translation>还没有回复</translation>
    </message>
    <message>
        <source>probability of the drawn token</source>
        <translation>所抽词元的概率</translation>
    </message>
    <message>
        <source>entropy (nats)</source>
        <translation>熵（奈特）</translation>
    </message>
</context>
<context>
    <name>TokenText</name>
    <message>
        <source>Step {index}</source>
        <translation>第 {index} 步</translation>
    </message>
    <message>
        <source>rank {rank}</source>
        <translation>排名 {rank}</translation>
    </message>
</context>
<context>
    <name>TokensPanel</name>
    <message>
        <source>Prompt as the model sees it</source>
        <translation>模型看到的提示词</translation>
    </message>
    <message>
        <source>Chips alternate colours per token; &lt;span style=&apos;color:{s}&apos;&gt;outlined&lt;/span&gt; are special tokens of the chat template; &lt;span style=&apos;color:{b}&apos;&gt;&amp;lt;0xE5&amp;gt;&lt;/span&gt; is one byte of a character split over several tokens.</source>
        <translation>每个词元块交替着色；&lt;span style=&apos;color:{s}&apos;&gt;带边框&lt;/span&gt;的是聊天模板的特殊词元；&lt;span style=&apos;color:{b}&apos;&gt;&amp;lt;0xE5&amp;gt;&lt;/span&gt; 是被拆到多个词元中的某个字符的一个字节。</translation>
    </message>
    <message>
        <source>Reply</source>
        <translation>回复</translation>
    </message>
    <message>
        <source>Probability heatmap</source>
        <translation>概率热力图</translation>
    </message>
    <message>
        <source>Colour every token of the reply by the probability the model gave it</source>
        <translation>按模型给出的概率为回复中的每个词元着色</translation>
    </message>
    <message>
        <source>Tokenizer playground</source>
        <translation>分词器试验场</translation>
    </message>
    <message>
        <source>Type any text to see how this model splits it…</source>
        <translation>输入任意文本，看看这个模型如何切分它…</translation>
    </message>
    <message>
        <source>{count} tokens · {special} special</source>
        <translation>{count} 个词元 · {special} 个特殊词元</translation>
    </message>
    <message>
        <source>{count} tokens</source>
        <translation>{count} 个词元</translation>
    </message>
    <message>
        <source>The tokenizer is unavailable: {reason}</source>
        <translation>分词器不可用：{reason}</translation>
    </message>
    <message>
        <source>load a model to use the playground</source>
        <translation>加载模型后即可使用试验场</translation>
    </message>
    <message>
        <source>tokenizing…</source>
        <translation>正在分词…</translation>
    </message>
    <message>
        <source>{count} tokens · {chars} characters</source>
        <translation>{count} 个词元 · {chars} 个字符</translation>
    </message>
</context>
<context>
    <name>TourCallout</name>
    <message>
        <source>Back</source>
        <translation>上一站</translation>
    </message>
    <message>
        <source>The previous stop</source>
        <translation>上一站</translation>
    </message>
    <message>
        <source>Next</source>
        <translation>下一站</translation>
    </message>
    <message>
        <source>The next stop (Enter)</source>
        <translation>下一站（Enter）</translation>
    </message>
    <message>
        <source>Skip tour</source>
        <translation>跳过导览</translation>
    </message>
    <message>
        <source>Close the tour; Help &gt; Tour resumes it here</source>
        <translation>关闭导览；“帮助 &gt; 导览”会从这里继续</translation>
    </message>
</context>
<context>
    <name>TourGuide</name>
    <message>
        <source>The tour starts once the model has loaded and no reply is running.</source>
        <translation>模型加载完毕且没有正在进行的回复时，导览才能开始。</translation>
    </message>
    <message>
        <source>{index} of {total}</source>
        <translation>{index} / {total}</translation>
    </message>
    <message>
        <source>Done</source>
        <translation>完成</translation>
    </message>
    <message>
        <source>Next</source>
        <translation>下一站</translation>
    </message>
</context>
<context>
    <name>TourModel</name>
    <message>
        <source>The starter model writes English only: the tour switches to {name}, which writes Chinese.</source>
        <translation>入门模型只会写英文：导览改用会写中文的 {name}。</translation>
    </message>
    <message>
        <source>No installed model writes Chinese: the tour runs on the English-only starter model. Download Qwen2.5 0.5B Instruct from the note above the chat.</source>
        <translation>没有已安装的模型会写中文：导览在只会写英文的入门模型上运行。可从对话上方的提示下载 Qwen2.5 0.5B Instruct。</translation>
    </message>
</context>
<context>
    <name>TourOffer</name>
    <message>
        <source>New here? A short tour runs one real generation step by step and shows why a model writes one token at a time.</source>
        <translation>第一次来？一个简短的导览会一步一步运行一次真实的生成，告诉你模型为什么一次只写一个词元。</translation>
    </message>
    <message>
        <source>Start the tour</source>
        <translation>开始导览</translation>
    </message>
    <message>
        <source>Eight stops, about two minutes</source>
        <translation>八站，约两分钟</translation>
    </message>
    <message>
        <source>Not now</source>
        <translation>暂不</translation>
    </message>
    <message>
        <source>Help &gt; Tour starts it later</source>
        <translation>稍后可从“帮助 &gt; 导览”开始</translation>
    </message>
</context>
</TS>
