#!/bin/sh
# bench/peers/awscli/cluster.sh create|destroy - the AWS objects secfaas makes
# for examples/minimal.yaml with a pre-baked gVisor AMI, made the way a
# person following the EKS documentation would with the AWS CLI: one command
# per call, `aws ... wait` for every wait, no state file (destroy finds the
# objects by name and tag).  A benchmark peer, not a tool: it is meant to be
# as good as a careful script is, no better.
#
# Environment:
#   AWS_ENDPOINT_URL  the local AWS (must be loopback; this AWS CLI, 2.9, reads
#                     no endpoint from the environment, so it is passed as
#                     --endpoint-url on every command)
#   AWS_CA_BUNDLE, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION: as usual
#   AMI_ID            the pre-baked gVisor AMI of the sandbox node group
#   CLUSTER           cluster name (default fn-minimal)
#   AWS               the AWS CLI (default /usr/bin/aws, Debian's awscli)
#
# The objects: IAM roles <c>-cluster (AmazonEKSClusterPolicy) and <c>-node
# (worker, ECR, CNI, SSM policies); VPC 10.40.0.0/16 with DNS support and
# hostnames; public and private subnets in three AZs (public ones map public
# IPs); an internet gateway; a public route table (default route to the
# gateway) and a private one; a shared security group open to itself; the
# EKS cluster (1.33, all six subnets, API authentication mode, service CIDR
# 172.20.0.0/16); a launch template for the sandbox nodes (the AMI, IMDSv2
# with hop limit 2, 20 GiB gp3 root volume, nodeadm user data adding runsc to
# containerd); node groups system (AL2023, m6i.large, 2/4/2) and sandbox
# (launch template, m6i.xlarge, 1/10/2, gVisor label and taint) in the public
# subnets.  Every object carries kubernetes.io/cluster/<c>=owned and
# team=platform.
set -eu
cmd=${1:?usage: cluster.sh create|destroy}
: "${AWS_ENDPOINT_URL:?AWS_ENDPOINT_URL must name the local AWS}"
case "$AWS_ENDPOINT_URL" in
http://127.* | https://127.* | http://localhost[:/]* | https://localhost[:/]* | http://\[::1\]* | https://\[::1\]*) ;;
*)
	echo "cluster.sh: refusing to run: $AWS_ENDPOINT_URL is not a loopback endpoint" >&2
	exit 2
	;;
esac
C=${CLUSTER:-fn-minimal}
AWS=${AWS:-/usr/bin/aws}
R=${AWS_REGION:-eu-west-1}
aws() { "$AWS" --endpoint-url "$AWS_ENDPOINT_URL" --region "$R" --output text "$@"; }
# IAM is global: signed for us-east-1 whatever the region of the rest
iam() { "$AWS" --endpoint-url "$AWS_ENDPOINT_URL" --region us-east-1 --output text iam "$@"; }
TAGS="Key=kubernetes.io/cluster/$C,Value=owned Key=team,Value=platform"
tagspec() { echo "ResourceType=$1,Tags=[{Key=kubernetes.io/cluster/$C,Value=owned},{Key=team,Value=platform}${2:-}]"; }
NODE_POLICIES="AmazonEKSWorkerNodePolicy AmazonEC2ContainerRegistryReadOnly AmazonEKS_CNI_Policy AmazonSSMManagedInstanceCore"

trust() {
	printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"%s"},"Action":"sts:AssumeRole"}]}' "$1"
}

user_data() { # ENDPOINT CA
	cat <<EOF
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="SECFAAS"

--SECFAAS
Content-Type: application/node.eks.aws

apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  cluster:
    name: $C
    apiServerEndpoint: $1
    certificateAuthority: $2
    cidr: 172.20.0.0/16
  kubelet:
    flags:
    - --node-labels=secfaas.dev/sandbox=gvisor
    - --register-with-taints=secfaas.dev/sandbox=gvisor:NoSchedule
  containerd:
    config: |
      version = 3
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc]
        runtime_type = 'io.containerd.runsc.v1'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runsc.options]
        TypeUrl = 'io.containerd.runsc.v1.options'
        ConfigPath = '/etc/containerd/runsc.toml'
--SECFAAS--
EOF
}

create() {
	: "${AMI_ID:?AMI_ID must name the pre-baked gVisor AMI}"
	# shellcheck disable=SC2086
	CLUSTER_ROLE=$(iam create-role --role-name "$C-cluster" --assume-role-policy-document "$(trust eks.amazonaws.com)" \
		--tags $TAGS --query Role.Arn)
	iam attach-role-policy --role-name "$C-cluster" --policy-arn arn:aws:iam::aws:policy/AmazonEKSClusterPolicy
	# shellcheck disable=SC2086
	NODE_ROLE=$(iam create-role --role-name "$C-node" --assume-role-policy-document "$(trust ec2.amazonaws.com)" \
		--tags $TAGS --query Role.Arn)
	for p in $NODE_POLICIES; do
		iam attach-role-policy --role-name "$C-node" --policy-arn "arn:aws:iam::aws:policy/$p"
	done

	VPC=$(aws ec2 create-vpc --cidr-block 10.40.0.0/16 --tag-specifications "$(tagspec vpc)" --query Vpc.VpcId)
	aws ec2 wait vpc-available --vpc-ids "$VPC"
	aws ec2 modify-vpc-attribute --vpc-id "$VPC" --enable-dns-support '{"Value":true}'
	aws ec2 modify-vpc-attribute --vpc-id "$VPC" --enable-dns-hostnames '{"Value":true}'

	PUBLIC="" PRIVATE=""
	for s in public:a:10.40.0.0/19 public:b:10.40.32.0/19 public:c:10.40.64.0/19 \
		private:a:10.40.96.0/19 private:b:10.40.128.0/19 private:c:10.40.160.0/19; do
		kind=${s%%:*} rest=${s#*:}
		az=${rest%%:*} cidr=${rest#*:}
		role=elb
		[ "$kind" = private ] && role=internal-elb
		id=$(aws ec2 create-subnet --vpc-id "$VPC" --cidr-block "$cidr" --availability-zone "$R$az" \
			--tag-specifications "$(tagspec subnet ",{Key=Name,Value=$C-$kind-$az},{Key=kubernetes.io/role/$role,Value=1}")" \
			--query Subnet.SubnetId)
		if [ "$kind" = public ]; then
			aws ec2 modify-subnet-attribute --subnet-id "$id" --map-public-ip-on-launch
			PUBLIC="$PUBLIC $id"
		else
			PRIVATE="$PRIVATE $id"
		fi
	done

	IGW=$(aws ec2 create-internet-gateway --tag-specifications "$(tagspec internet-gateway)" \
		--query InternetGateway.InternetGatewayId)
	aws ec2 attach-internet-gateway --internet-gateway-id "$IGW" --vpc-id "$VPC"
	RT=$(aws ec2 create-route-table --vpc-id "$VPC" --tag-specifications "$(tagspec route-table)" \
		--query RouteTable.RouteTableId)
	aws ec2 create-route --route-table-id "$RT" --destination-cidr-block 0.0.0.0/0 --gateway-id "$IGW" >/dev/null
	for id in $PUBLIC; do aws ec2 associate-route-table --route-table-id "$RT" --subnet-id "$id" >/dev/null; done
	RT=$(aws ec2 create-route-table --vpc-id "$VPC" --tag-specifications "$(tagspec route-table)" \
		--query RouteTable.RouteTableId)
	for id in $PRIVATE; do aws ec2 associate-route-table --route-table-id "$RT" --subnet-id "$id" >/dev/null; done

	SG=$(aws ec2 create-security-group --vpc-id "$VPC" --group-name "$C-cluster-shared" \
		--description "secfaas: control plane and nodes of the cluster" \
		--tag-specifications "$(tagspec security-group)" --query GroupId)
	aws ec2 authorize-security-group-ingress --group-id "$SG" \
		--ip-permissions "IpProtocol=-1,UserIdGroupPairs=[{GroupId=$SG}]" >/dev/null

	# A new role takes a few seconds to reach EKS: retry while EKS says it
	# cannot assume it (the documented advice for InvalidParameterException).
	subnets=$(echo $PRIVATE $PUBLIC | tr ' ' ,)
	i=0
	until aws eks create-cluster --name "$C" --kubernetes-version 1.33 --role-arn "$CLUSTER_ROLE" \
		--resources-vpc-config "subnetIds=$subnets,securityGroupIds=$SG,endpointPublicAccess=true,endpointPrivateAccess=false" \
		--kubernetes-network-config serviceIpv4Cidr=172.20.0.0/16 \
		--access-config authenticationMode=API,bootstrapClusterCreatorAdminPermissions=true \
		--tags "kubernetes.io/cluster/$C=owned,team=platform" >/dev/null 2>"${TMPDIR:-/tmp}/cluster.sh.$$"; do
		i=$((i + 1))
		if [ $i -ge 30 ] || ! grep -q InvalidParameterException "${TMPDIR:-/tmp}/cluster.sh.$$"; then
			cat "${TMPDIR:-/tmp}/cluster.sh.$$" >&2
			rm -f "${TMPDIR:-/tmp}/cluster.sh.$$"
			exit 1
		fi
		sleep "${RETRY_SLEEP:-2}"
	done
	rm -f "${TMPDIR:-/tmp}/cluster.sh.$$"
	aws eks wait cluster-active --name "$C"
	read -r ENDPOINT CA <<EOF
$(aws eks describe-cluster --name "$C" --query '[cluster.endpoint,cluster.certificateAuthority.data]')
EOF

	ud=$(user_data "$ENDPOINT" "$CA" | base64 -w0)
	LT=$(aws ec2 create-launch-template --launch-template-name "$C-sandbox" \
		--tag-specifications "$(tagspec launch-template ",{Key=eks:nodegroup-name,Value=sandbox}")" \
		--launch-template-data "{\"ImageId\":\"$AMI_ID\",\"UserData\":\"$ud\",
			\"MetadataOptions\":{\"HttpTokens\":\"required\",\"HttpPutResponseHopLimit\":2,\"HttpEndpoint\":\"enabled\"},
			\"BlockDeviceMappings\":[{\"DeviceName\":\"/dev/xvda\",\"Ebs\":{\"VolumeSize\":20,\"VolumeType\":\"gp3\",\"DeleteOnTermination\":true,\"Encrypted\":true}}],
			\"TagSpecifications\":[{\"ResourceType\":\"instance\",\"Tags\":[{\"Key\":\"kubernetes.io/cluster/$C\",\"Value\":\"owned\"},{\"Key\":\"team\",\"Value\":\"platform\"},{\"Key\":\"eks:nodegroup-name\",\"Value\":\"sandbox\"}]}]}" \
		--query LaunchTemplate.LaunchTemplateId)

	# shellcheck disable=SC2086
	aws eks create-nodegroup --cluster-name "$C" --nodegroup-name system --node-role "$NODE_ROLE" \
		--subnets $PUBLIC --instance-types m6i.large --ami-type AL2023_x86_64_STANDARD --disk-size 20 \
		--scaling-config minSize=2,maxSize=4,desiredSize=2 --capacity-type ON_DEMAND \
		--tags "kubernetes.io/cluster/$C=owned,team=platform" >/dev/null
	# shellcheck disable=SC2086
	aws eks create-nodegroup --cluster-name "$C" --nodegroup-name sandbox --node-role "$NODE_ROLE" \
		--subnets $PUBLIC --instance-types m6i.xlarge --launch-template "id=$LT,version=1" \
		--scaling-config minSize=1,maxSize=10,desiredSize=2 --capacity-type ON_DEMAND \
		--labels secfaas.dev/sandbox=gvisor --taints key=secfaas.dev/sandbox,value=gvisor,effect=NO_SCHEDULE \
		--tags "kubernetes.io/cluster/$C=owned,team=platform" >/dev/null
	aws eks wait nodegroup-active --cluster-name "$C" --nodegroup-name system
	aws eks wait nodegroup-active --cluster-name "$C" --nodegroup-name sandbox
	echo "cluster $C is ready ($ENDPOINT)"
}

# none NAME VALUE: VALUE is empty or the CLI's "None"
none() { [ -z "$1" ] || [ "$1" = None ]; }

destroy() {
	for ng in $(aws eks list-nodegroups --cluster-name "$C" --query 'nodegroups[]' 2>/dev/null || true); do
		aws eks delete-nodegroup --cluster-name "$C" --nodegroup-name "$ng" >/dev/null
	done
	for ng in $(aws eks list-nodegroups --cluster-name "$C" --query 'nodegroups[]' 2>/dev/null || true); do
		aws eks wait nodegroup-deleted --cluster-name "$C" --nodegroup-name "$ng"
	done
	if aws eks describe-cluster --name "$C" --query cluster.status >/dev/null 2>&1; then
		aws eks delete-cluster --name "$C" >/dev/null
		aws eks wait cluster-deleted --name "$C"
	fi
	LT=$(aws ec2 describe-launch-templates --filters "Name=launch-template-name,Values=$C-sandbox" \
		--query 'LaunchTemplates[0].LaunchTemplateId')
	none "$LT" || aws ec2 delete-launch-template --launch-template-id "$LT" >/dev/null

	VPC=$(aws ec2 describe-vpcs --filters "Name=tag:kubernetes.io/cluster/$C,Values=owned" "Name=cidr,Values=10.40.0.0/16" \
		--query 'Vpcs[0].VpcId')
	if ! none "$VPC"; then
		for a in $(aws ec2 describe-route-tables --filters "Name=vpc-id,Values=$VPC" \
			--query 'RouteTables[].Associations[?Main==`false`].RouteTableAssociationId[]'); do
			aws ec2 disassociate-route-table --association-id "$a"
		done
		for rt in $(aws ec2 describe-route-tables --filters "Name=vpc-id,Values=$VPC" "Name=tag:kubernetes.io/cluster/$C,Values=owned" \
			--query 'RouteTables[].RouteTableId'); do
			aws ec2 delete-route-table --route-table-id "$rt"
		done
		for igw in $(aws ec2 describe-internet-gateways --filters "Name=attachment.vpc-id,Values=$VPC" \
			--query 'InternetGateways[].InternetGatewayId'); do
			aws ec2 detach-internet-gateway --internet-gateway-id "$igw" --vpc-id "$VPC"
			aws ec2 delete-internet-gateway --internet-gateway-id "$igw"
		done
		for sg in $(aws ec2 describe-security-groups --filters "Name=vpc-id,Values=$VPC" "Name=group-name,Values=$C-cluster-shared" \
			--query 'SecurityGroups[].GroupId'); do
			aws ec2 delete-security-group --group-id "$sg"
		done
		for s in $(aws ec2 describe-subnets --filters "Name=vpc-id,Values=$VPC" --query 'Subnets[].SubnetId'); do
			aws ec2 delete-subnet --subnet-id "$s"
		done
		aws ec2 delete-vpc --vpc-id "$VPC"
	fi
	for r in "$C-cluster" "$C-node"; do
		iam get-role --role-name "$r" >/dev/null 2>&1 || continue
		for p in $(iam list-attached-role-policies --role-name "$r" --query 'AttachedPolicies[].PolicyArn'); do
			iam detach-role-policy --role-name "$r" --policy-arn "$p"
		done
		iam delete-role --role-name "$r"
	done
	echo "cluster $C is gone"
}

case "$cmd" in
create) create ;;
destroy) destroy ;;
*)
	echo "usage: cluster.sh create|destroy" >&2
	exit 2
	;;
esac
