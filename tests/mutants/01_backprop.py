"""Plausible wrong implementations of notebook 01's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    Mutant("ex1_value_ops", "assigns gradients in + instead of accumulating them",
           {"self.grad += out.grad\n            other.grad += out.grad": "self.grad = out.grad\n            other.grad = out.grad"}),
    Mutant("ex1_value_ops", "product rule with the factors swapped",
           {"self.grad += other.data * out.grad\n            other.grad += self.data * out.grad":
            "self.grad += self.data * out.grad\n            other.grad += other.data * out.grad"}),
    Mutant("ex1_value_ops", "tanh derivative written as 1 - t instead of 1 - t**2",
           {"self.grad += (1 - t * t) * out.grad": "self.grad += (1 - t) * out.grad"}),
    Mutant("ex1_value_ops", "power rule without the factor k",
           {"self.grad += k * self.data ** (k - 1) * out.grad": "self.grad += self.data ** (k - 1) * out.grad"}),
    Mutant("ex1_value_ops", "log derivative multiplied instead of divided",
           {"self.grad += out.grad / self.data": "self.grad += out.grad * self.data"}),
    Mutant("ex2_backward", "closures called in forward (topological) order, not reversed",
           {"for node in reversed(order):": "for node in order:"}),
    Mutant("ex2_backward", "no visited set: a node reached along two paths is processed twice",
           {"if id(node) in seen:\n            return": "if False:\n            return"}),
    Mutant("ex2_backward", "gradients not reset before propagating",
           {"    for node in order:\n        node.grad = 0.0\n": ""}),
    Mutant("ex2_backward", "the root's gradient is never seeded with 1",
           {"root.grad = 1.0": "root.grad = root.grad"}),
    # ex3: the step, strides, dtype, exact restoration
    Mutant("ex3_numerical_gradient", "one-sided (forward) difference",
           {"x[idx] = old - eps\n        f_minus = float(f(x))": "x[idx] = old\n        f_minus = float(f(x))",
            "(f_plus - f_minus) / (2 * eps)": "(f_plus - f_minus) / eps"}),
    Mutant("ex3_numerical_gradient", "central difference divided by eps instead of 2 eps",
           {"(f_plus - f_minus) / (2 * eps)": "(f_plus - f_minus) / eps"}),
    Mutant("ex3_numerical_gradient", "perturbed entry not restored",
           {"        x[idx] = old\n        grad[idx]": "        grad[idx]"}),
    Mutant("ex3_numerical_gradient", "eps ignored: a fixed step of 1e-5",
           {"x[idx] = old + eps": "x[idx] = old + 1e-5", "x[idx] = old - eps": "x[idx] = old - 1e-5",
            "(f_plus - f_minus) / (2 * eps)": "(f_plus - f_minus) / 2e-5"}),
    Mutant("ex3_numerical_gradient", "gradient buffer created with the default dtype, not x's",
           {"grad = torch.zeros_like(x)": "grad = torch.zeros(x.shape)"}),
    Mutant("ex3_numerical_gradient", "entry restored by arithmetic (old + eps - 2 eps + eps is not old in floating point)",
           {"        x[idx] = old + eps\n": "        x[idx] += eps\n",
            "        x[idx] = old - eps\n": "        x[idx] -= 2 * eps\n",
            "        x[idx] = old\n        grad[idx]": "        x[idx] += eps\n        grad[idx]"}),
    Mutant("ex3_numerical_gradient", "fills the input with NaN and returns NaN",
           {"    grad = torch.zeros_like(x)\n": "    x.fill_(float('nan'))\n    return torch.full_like(x, float('nan'))\n    grad = torch.zeros_like(x)\n"}),
    Mutant("ex4_linear_backward", "bias gradient averaged over the batch instead of summed",
           {"grad_out.sum(dim=0)": "grad_out.mean(dim=0)"}),
    Mutant("ex4_linear_backward", "weight gradient transposed (x.T @ grad_out)",
           {"grad_W = grad_out.T @ x": "grad_W = x.T @ grad_out"}),
    Mutant("ex4_linear_backward", "input gradient through W.T",
           {"grad_x = grad_out @ W": "grad_x = grad_out @ W.T"}),
    Mutant("ex5_softmax_cross_entropy", "no max subtraction: overflows for large logits",
           {"shifted = logits - logits.max(dim=1, keepdim=True).values": "shifted = logits"}),
    Mutant("ex5_softmax_cross_entropy", "gradient not divided by the batch size",
           {"return loss, grad / N": "return loss, grad"}),
    Mutant("ex5_softmax_cross_entropy", "gradient is softmax only (one-hot not subtracted)",
           {"grad[torch.arange(N), y] -= 1.0": "pass"}),
    Mutant("ex6_mlp_backward", "ReLU mask missing in the backward pass",
           {"grad = grad * masks[i]": "grad = grad"}),
    Mutant("ex6_mlp_backward", "ReLU also applied to the output logits",
           {"        else:\n            h = z\n": "        else:\n            h = z.clamp_min(0)\n"}),
    Mutant("ex6_mlp_backward", "each layer's mask taken from the layer before",
           {"grad = grad * masks[i]": "grad = grad * masks[i - 1]"}),

    # ex1: values where the closures' edge cases matter (zero, huge, upstream gradient other than 1)
    Mutant("ex1_value_ops", "ReLU passes the gradient at exactly 0 (>= instead of >)",
           {"(1.0 if self.data > 0 else 0.0) * out.grad": "(1.0 if self.data >= 0 else 0.0) * out.grad"}),
    Mutant("ex1_value_ops", "ReLU ignores the upstream gradient (adds its local derivative only)",
           {"(1.0 if self.data > 0 else 0.0) * out.grad": "(1.0 if self.data > 0 else 0.0)"}),
    Mutant("ex1_value_ops", "power rule written as k * out / x: divides by zero at x = 0",
           {"self.grad += k * self.data ** (k - 1) * out.grad": "self.grad += k * out.data / self.data * out.grad"}),
    Mutant("ex1_value_ops", "product rule written as out / x: divides by zero when a factor is 0",
           {"self.grad += other.data * out.grad\n            other.grad += self.data * out.grad":
            "self.grad += out.data / self.data * out.grad\n            other.grad += out.data / other.data * out.grad"}),
    Mutant("ex1_value_ops", "tanh derivative as 1 / cosh(x)**2: overflows for large inputs",
           {"self.grad += (1 - t * t) * out.grad": "self.grad += out.grad / math.cosh(self.data) ** 2"}),
    Mutant("ex1_value_ops", "exp ignores the upstream gradient",
           {"self.grad += e * out.grad": "self.grad += e"}),
    # ex2: interior shared nodes, repeated calls, what the pass leaves behind
    Mutant("ex2_backward", "breadth-first order from the root: an interior node used along paths of different lengths passes its gradient on too early",
           {"    visit(root)\n    for node in order:\n        node.grad = 0.0\n    root.grad = 1.0\n    for node in reversed(order):\n        node._backward()\n":
            "    visit(root)\n    for node in order:\n        node.grad = 0.0\n    root.grad = 1.0\n"
            "    queue, done = [root], {id(root)}\n"
            "    while queue:\n        node = queue.pop(0)\n        node._backward()\n"
            "        for child in node._prev:\n            if id(child) not in done:\n"
            "                done.add(id(child))\n                queue.append(child)\n"}),
    Mutant("ex2_backward", "frees the graph after the pass (every node's _prev emptied)",
           {"    for node in reversed(order):\n        node._backward()\n":
            "    for node in reversed(order):\n        node._backward()\n    for node in order:\n        node._prev = ()\n"}),
    Mutant("ex2_backward", "the visited set lives outside backward and is kept between calls",
           {"def backward(root):": "_seen = set()\n\n\ndef backward(root):",
            "order, seen = [], set()": "order, seen = [], _seen"}),
    Mutant("ex2_backward", "overwrites every node's data with NaN after the pass",
           {"    for node in reversed(order):\n        node._backward()\n":
            "    for node in reversed(order):\n        node._backward()\n    for node in order:\n        node.data = float('nan')\n"}),
    Mutant("ex2_backward", "keeps only the leaves' gradients: interior nodes reset to 0 after the pass",
           {"    for node in reversed(order):\n        node._backward()\n":
            "    for node in reversed(order):\n        node._backward()\n    for node in order:\n"
            "        if node._prev and node is not root:\n            node.grad = 0.0\n"}),
    Mutant("ex2_backward", "visited check after recursing into the children: right order, exponential time on shared subgraphs",
           {"        if id(node) in seen:\n            return\n        seen.add(id(node))\n        for child in node._prev:\n            visit(child)\n        order.append(node)\n":
            "        for child in node._prev:\n            visit(child)\n        if id(node) not in seen:\n            seen.add(id(node))\n            order.append(node)\n"}),
    Mutant("ex2_backward", "frees the forward values of interior nodes after the pass (data set to 0)",
           {"    for node in reversed(order):\n        node._backward()\n":
            "    for node in reversed(order):\n        node._backward()\n    for node in order:\n"
            "        if node._prev and node is not root:\n            node.data = 0.0\n"}),
    # ex4: dtype/device of helper tensors, in-place edits, autograd on the caller's tensors
    Mutant("ex4_linear_backward", "bias gradient as ones(N) @ grad_out, ones created on the CPU in the default dtype",
           {"grad_b = grad_out.sum(dim=0)": "grad_b = torch.ones(grad_out.shape[0]) @ grad_out"}),
    Mutant("ex4_linear_backward", "weight gradient accumulated in a zeros buffer of the default dtype",
           {"grad_W = grad_out.T @ x": "grad_W = torch.zeros(W.shape)\n    for n in range(x.shape[0]):\n        grad_W += torch.outer(grad_out[n], x[n])"}),
    Mutant("ex4_linear_backward", "grad_out transposed in place (t_) for the weight gradient",
           {"    grad_W = grad_out.T @ x\n    grad_b = grad_out.sum(dim=0)\n": "    grad_b = grad_out.sum(dim=0)\n    grad_W = grad_out.t_() @ x\n"}),
    Mutant("ex4_linear_backward", "autograd on the caller's tensors (requires_grad_; .grad accumulates across calls)",
           {"    grad_x = grad_out @ W\n    grad_W = grad_out.T @ x\n    grad_b = grad_out.sum(dim=0)\n":
            "    for t in (x, W, b):\n        t.requires_grad_(True)\n    (x @ W.T + b).backward(grad_out)\n"
            "    grad_x, grad_W, grad_b = x.grad, W.grad, b.grad\n"}),
    Mutant("ex4_linear_backward", "fills the inputs with NaN and returns NaN",
           {"    grad_x = grad_out @ W\n": "    for t in (x, W, b, grad_out):\n        t.fill_(float('nan'))\n    grad_x = grad_out @ W\n"}),
    # ex5: stability per row, dtype, return type
    Mutant("ex5_softmax_cross_entropy", "one global max instead of each row's max",
           {"logits.max(dim=1, keepdim=True).values": "logits.max()"}),
    Mutant("ex5_softmax_cross_entropy", "log of softmax: log(0) = -inf once a probability underflows",
           {"log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()":
            "log_probs = (shifted.exp() / shifted.exp().sum(dim=1, keepdim=True)).log()"}),
    Mutant("ex5_softmax_cross_entropy", "one-hot from torch.eye(C) in the default dtype, whatever the logits' dtype",
           {"    grad = log_probs.exp()\n    grad[torch.arange(N), y] -= 1.0\n":
            "    grad = log_probs.exp() - torch.eye(logits.shape[1])[y]\n"}),
    Mutant("ex5_softmax_cross_entropy", "loss returned as a Python float (.item())",
           {"loss = -log_probs[torch.arange(N), y].mean()": "loss = -log_probs[torch.arange(N), y].mean().item()"}),
    Mutant("ex5_softmax_cross_entropy", "computes in float64 whatever the logits' dtype",
           {"    N = logits.shape[0]\n": "    N = logits.shape[0]\n    logits = logits.double()\n"}),
    Mutant("ex5_softmax_cross_entropy", "fills the logits with NaN and returns NaN",
           {"    N = logits.shape[0]\n": "    N = logits.shape[0]\n    logits.fill_(float('nan'))\n"}),
    Mutant("ex5_softmax_cross_entropy", "shifts each row by its largest |logit|: rows of large negative logits underflow",
           {"logits.max(dim=1, keepdim=True).values": "logits.abs().max(dim=1, keepdim=True).values"}),
    # ex6: the ReLU mask at 0, dtype, return type, autograd on the caller's parameters
    Mutant("ex6_mlp_backward", "ReLU mask z >= 0: the gradient flows through units that are exactly 0",
           {"mask = z > 0": "mask = z >= 0"}),
    Mutant("ex6_mlp_backward", "ReLU mask converted to float64 whatever the parameters' dtype",
           {"mask = z > 0": "mask = (z > 0).double()"}),
    Mutant("ex6_mlp_backward", "loss returned as a Python float (.item())",
           {"    return loss, grads\n": "    return loss.item(), grads\n"}),
    Mutant("ex6_mlp_backward", "autograd on the caller's parameters (requires_grad_; .grad accumulates across calls)",
           {"    inputs, masks, h = [], [], X\n": "    for W, b in params:\n        W.requires_grad_(True); b.requires_grad_(True)\n"
            "    h = X\n    for i, (W, b) in enumerate(params):\n        h = h @ W.T + b\n        if i < len(params) - 1:\n            h = torch.relu(h)\n"
            "    loss = torch.nn.functional.cross_entropy(h, y)\n    loss.backward()\n"
            "    return loss.detach(), [(W.grad, b.grad) for W, b in params]\n    inputs, masks, h = [], [], X\n"}),
    Mutant("ex6_mlp_backward", "fills the inputs with NaN and returns NaN",
           {"    inputs, masks, h = [], [], X\n": "    X.fill_(float('nan'))\n    for W, b in params:\n        W.fill_(float('nan'))\n    inputs, masks, h = [], [], X\n"}),
    Mutant("ex6_mlp_backward", "centres the caller's inputs in place (X -= X.mean(0))",
           {"    inputs, masks, h = [], [], X\n": "    X -= X.mean(dim=0)\n    inputs, masks, h = [], [], X\n"}),

    # Devices, precision and views (each mutant keeps the dtype right: only the class named can catch it)
    Mutant("ex3_numerical_gradient", "keeps the tensor f returns instead of its number: a 0-d view of x changes with x",
           {"f_plus = float(f(x))": "f_plus = f(x)", "f_minus = float(f(x))": "f_minus = f(x)"}),
    Mutant("ex3_numerical_gradient", "detaches f's value instead of reading it: still a view of x",
           {"f_plus = float(f(x))": "f_plus = torch.as_tensor(f(x)).detach()",
            "f_minus = float(f(x))": "f_minus = torch.as_tensor(f(x)).detach()"}),
    Mutant("ex3_numerical_gradient", "each value of f rounded to float32 before differencing",
           {"f_plus = float(f(x))": "f_plus = torch.tensor(float(f(x)), dtype=torch.float32).item()",
            "f_minus = float(f(x))": "f_minus = torch.tensor(float(f(x)), dtype=torch.float32).item()"}),
    Mutant("ex4_linear_backward", "bias gradient as ones(N) @ grad_out, ones in the right dtype but on the CPU",
           {"grad_b = grad_out.sum(dim=0)": "grad_b = torch.ones(grad_out.shape[0], dtype=grad_out.dtype) @ grad_out"}),
    Mutant("ex4_linear_backward", "weight gradient summed into a zeros buffer made on the CPU",
           {"grad_W = grad_out.T @ x": "grad_W = torch.zeros(W.shape, dtype=W.dtype) + grad_out.T @ x"}),
    Mutant("ex5_softmax_cross_entropy", "one-hot matrix made with torch.zeros on the CPU (right dtype)",
           {"    grad = log_probs.exp()\n    grad[torch.arange(N), y] -= 1.0\n":
            "    onehot = torch.zeros(N, logits.shape[1], dtype=logits.dtype)\n    onehot[torch.arange(N), y] = 1.0\n"
            "    grad = log_probs.exp() - onehot\n"}),
    Mutant("ex5_softmax_cross_entropy", "one-hot from torch.eye(C) in the logits' dtype, on the CPU",
           {"    grad = log_probs.exp()\n    grad[torch.arange(N), y] -= 1.0\n":
            "    grad = log_probs.exp() - torch.eye(logits.shape[1], dtype=logits.dtype)[y]\n"}),
    Mutant("ex6_mlp_backward", "ReLU as torch.maximum with a zeros tensor made on the CPU",
           {"h = z * mask": "h = torch.maximum(z, torch.zeros(z.shape, dtype=z.dtype))"}),
    Mutant("ex6_mlp_backward", "ReLU mask as a float tensor built on the CPU",
           {"mask = z > 0": "mask = torch.tensor((z > 0).tolist(), dtype=z.dtype)"}),
]
